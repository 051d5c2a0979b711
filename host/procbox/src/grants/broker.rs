//! A permission broker: the escalation hook as a program of the user's
//! choice, reached over a Unix socket (`PROCBOX_PERMISSION_BROKER=PATH` for
//! the command line), after Deno's `DENO_PERMISSION_BROKER_PATH`.
//!
//! **Protocol, version 1.** procbox connects once per run and, for each
//! request that no allow rule grants (never one a deny rule or the
//! plugin's manifest refuses), writes one JSON object on one line:
//!
//! ```json
//! {"version":1,"id":1,"plugin":{"name":"chores.wasm","blake3":"9f…"},
//!  "program":"/usr/bin/git","args":["log","-3"],"cwd":"/home/me/repo",
//!  "denial":"denied: /usr/bin/git log -3: no allow rule grants /usr/bin/git …; to allow exactly this, grant: allow-run = [\"git log -3\"]",
//!  "fix":{"key":"allow-run","value":"git log -3","grants-file":"allow-run = [\"git log -3\"]"}}
//! ```
//!
//! `fix` is the narrowest grant that would allow the request, as data: its
//! grants-file key (the `procbox` flag of the same name), its value where
//! it has one word (absent for the list form `[[run]]`), and the
//! grants-file line.
//!
//! and reads one line back, with the same `id`:
//!
//! ```json
//! {"version":1,"id":1,"result":"allow-once"}
//! {"version":1,"id":1,"result":"allow-rule","rule":"git log **"}
//! {"version":1,"id":1,"result":"deny","reason":"not on Fridays"}
//! ```
//!
//! `allow-rule` grants the rule (written as for `--allow-run`) for the rest
//! of the run; it must match the request. Requests are sent one at a time.
//!
//! **Fail-closed.** A broker that cannot be reached, closes the connection,
//! answers something that is not such a line (another version, another id,
//! an unknown result), or does not answer within the deadline
//! ([`DEFAULT_DEADLINE`], 30 s) ends the whole run: the plugin gets no
//! answer at all, and the command line exits with its own status (123).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::UnixStream;

use crate::gate::Unmatched;
use crate::spawn::hooks::{Answer, Escalation};

/// The protocol's version, in every message.
pub const VERSION: u32 = 1;

/// How long the broker has to answer one request.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(30);

/// The longest answer line procbox reads.
const MAX_ANSWER: usize = 64 << 10;

/// The plugin, as the broker is told about it: its name is for people,
/// its hash identifies it.
#[derive(Debug, Clone, Serialize)]
pub struct PluginIdentity {
    /// The name it was loaded under (its path).
    pub name: String,
    /// The BLAKE3 hash of its bytes, in hex.
    pub blake3: String,
}

impl PluginIdentity {
    /// The identity of the plugin with these bytes.
    pub fn of(name: &str, bytes: &[u8]) -> PluginIdentity {
        PluginIdentity {
            name: name.to_string(),
            blake3: blake3::hash(bytes).to_hex().to_string(),
        }
    }
}

/// The escalation hook that asks a broker.
pub struct Broker {
    path: PathBuf,
    plugin: PluginIdentity,
    deadline: Duration,
    next_id: AtomicU64,
    connection: tokio::sync::Mutex<Option<Connection>>,
}

struct Connection {
    reader: BufReader<OwnedReadHalf>,
    writer: OwnedWriteHalf,
}

#[derive(Serialize)]
struct Request<'a> {
    version: u32,
    id: u64,
    plugin: &'a PluginIdentity,
    program: &'a std::path::Path,
    args: &'a [String],
    cwd: &'a std::path::Path,
    denial: String,
    fix: FixData,
}

/// A [`crate::Fix`] on the wire.
#[derive(Serialize)]
struct FixData {
    key: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(rename = "grants-file")]
    grants_file: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reply {
    version: u32,
    id: u64,
    result: String,
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// Why the broker gave no answer.
#[derive(Debug, thiserror::Error)]
enum BrokerError {
    #[error("cannot reach it at {}: {source}", .path.display())]
    Connect { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Encode(serde_json::Error),
    #[error("sending the request: {0}")]
    Send(std::io::Error),
    #[error("it did not answer within {}", humantime::format_duration(*.deadline))]
    Timeout { deadline: Duration },
    #[error("reading its answer: {0}")]
    Read(std::io::Error),
    #[error("it closed the connection without answering")]
    Closed,
    #[error("its answer is not one line of at most {} KiB", MAX_ANSWER >> 10)]
    TooLong,
    #[error("its answer is not UTF-8")]
    NotUtf8,
    #[error("its answer is not a version-{VERSION} reply: {0}")]
    NotAReply(serde_json::Error),
    #[error("it answered in protocol version {version}; procbox speaks {VERSION}")]
    Version { version: u32 },
    #[error("it answered request {answered} to request {asked}")]
    OtherRequest { answered: u64, asked: u64 },
    #[error("its result {result:?} is not allow-once, allow-rule (with a rule) or deny")]
    Result { result: String },
}

impl Broker {
    /// A broker at the Unix socket `path`, told about `plugin`, with
    /// [`DEFAULT_DEADLINE`] per answer.
    pub fn new(path: impl Into<PathBuf>, plugin: PluginIdentity) -> Broker {
        Broker {
            path: path.into(),
            plugin,
            deadline: DEFAULT_DEADLINE,
            next_id: AtomicU64::new(1),
            connection: tokio::sync::Mutex::new(None),
        }
    }

    /// Sets how long the broker has to answer each request.
    pub fn deadline(mut self, deadline: Duration) -> Broker {
        self.deadline = deadline;
        self
    }

    async fn ask(&self, request: &Unmatched) -> Result<Answer, BrokerError> {
        let mut slot = self.connection.lock().await;
        // Out of the slot for the exchange, back only after a whole one: a
        // request cancelled halfway (the run stopped) leaves no connection
        // with an answer still due.
        let mut connection = match slot.take() {
            Some(connection) => connection,
            None => {
                let stream = UnixStream::connect(&self.path)
                    .await
                    .map_err(|source| BrokerError::Connect {
                        path: self.path.clone(),
                        source,
                    })?;
                let (reader, writer) = stream.into_split();
                Connection {
                    reader: BufReader::new(reader),
                    writer,
                }
            }
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let message = Request {
            version: VERSION,
            id,
            plugin: &self.plugin,
            program: &request.program,
            args: &request.args,
            cwd: &request.cwd,
            denial: request.error().to_string(),
            fix: FixData {
                key: request.fix.grant.key(),
                value: request.fix.grant.value(),
                grants_file: request.fix.grant.grants_file_line(),
            },
        };
        let mut line = serde_json::to_vec(&message).map_err(BrokerError::Encode)?;
        line.push(b'\n');
        let exchange = async {
            connection.writer.write_all(&line).await.map_err(BrokerError::Send)?;
            read_answer(&mut connection.reader).await
        };
        let answer = tokio::time::timeout(self.deadline, exchange)
            .await
            .map_err(|_| BrokerError::Timeout {
                deadline: self.deadline,
            })??;
        let answer = parse(&answer, id)?;
        *slot = Some(connection);
        Ok(answer)
    }
}

async fn read_answer(reader: &mut BufReader<OwnedReadHalf>) -> Result<String, BrokerError> {
    let mut line = Vec::new();
    let read = (&mut *reader)
        .take(MAX_ANSWER as u64 + 1)
        .read_until(b'\n', &mut line)
        .await
        .map_err(BrokerError::Read)?;
    match read {
        0 => Err(BrokerError::Closed),
        _ if line.last() != Some(&b'\n') => Err(BrokerError::TooLong),
        _ => String::from_utf8(line).map_err(|_| BrokerError::NotUtf8),
    }
}

/// The answer in `line` to request `id`.
fn parse(line: &str, id: u64) -> Result<Answer, BrokerError> {
    let reply: Reply = serde_json::from_str(line.trim_end()).map_err(BrokerError::NotAReply)?;
    if reply.version != VERSION {
        return Err(BrokerError::Version { version: reply.version });
    }
    if reply.id != id {
        return Err(BrokerError::OtherRequest {
            answered: reply.id,
            asked: id,
        });
    }
    match (reply.result.as_str(), reply.rule) {
        ("allow-once", None) => Ok(Answer::AllowOnce),
        ("allow-rule", Some(rule)) => Ok(Answer::AllowRule(rule)),
        ("deny", None) => Ok(Answer::Deny(
            reply.reason.unwrap_or_else(|| "the permission broker said no".into()),
        )),
        (result, _) => Err(BrokerError::Result {
            result: result.to_string(),
        }),
    }
}

#[async_trait::async_trait]
impl Escalation for Broker {
    async fn escalate(&self, request: &Unmatched) -> Answer {
        match self.ask(request).await {
            Ok(answer) => answer,
            // The broken connection was not put back.
            Err(why) => Answer::Abort(format!("the permission broker failed: {why}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_and_anything_else_is_refused() {
        assert_eq!(
            parse(r#"{"version":1,"id":7,"result":"allow-once"}"#, 7).ok(),
            Some(Answer::AllowOnce)
        );
        assert_eq!(
            parse(r#"{"version":1,"id":7,"result":"allow-rule","rule":"git log **"}"#, 7).ok(),
            Some(Answer::AllowRule("git log **".into()))
        );
        assert_eq!(
            parse(r#"{"version":1,"id":7,"result":"deny","reason":"no"}"#, 7).ok(),
            Some(Answer::Deny("no".into()))
        );
        for bad in [
            r#"{"version":2,"id":7,"result":"allow-once"}"#,
            r#"{"version":1,"id":8,"result":"allow-once"}"#,
            r#"{"version":1,"id":7,"result":"allow"}"#,
            r#"{"version":1,"id":7,"result":"allow-rule"}"#,
            r#"{"version":1,"id":7,"result":"allow-once","rule":"sh"}"#,
            r#"{"version":1,"id":7,"result":"allow-once","extra":1}"#,
            "yes",
            "",
        ] {
            assert!(parse(bad, 7).is_err(), "{bad:?} was accepted");
        }
    }
}
