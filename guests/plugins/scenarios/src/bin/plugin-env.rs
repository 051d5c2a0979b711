//! `plugin-env [NAME...]`: the plugin's own environment holds exactly the
//! variables NAME... and nothing else.

fn main() {
    scenarios::run(|args| {
        let mut names: Vec<String> = std::env::vars().map(|(name, _)| name).collect();
        names.sort();
        let mut expected = args.to_vec();
        expected.sort();
        assert_eq!(names, expected);
        Ok(())
    });
}
