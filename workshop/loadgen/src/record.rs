//! The record of a run: `FILE` holds one JSON line per accepted event (a `Fact`), written as soon
//! as ingest-api acknowledged it, so a check can compare it with both stores; `FILE.journal` holds
//! every event body before it is sent. A run that stopped (or was killed) resumes from them: what
//! was journaled but not recorded is sent again unchanged (an id is a promise about content, so
//! the repeat is absorbed, never a conflicting duplicate), then the steps go on after the last
//! journaled one.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::traffic::{Event, Fact, Kind};

#[derive(Serialize, Deserialize)]
struct Header {
    loadgen_seed: u64,
}

#[derive(Serialize, Deserialize)]
struct Journaled {
    route: String,
    body: Value,
    fact: Fact,
}

/// Events to send again when resuming, and where to go on.
#[derive(Debug, Default)]
pub struct Resume {
    pub next_seq: u64,
    pub unsent: Vec<Event>,
}

pub struct Record {
    facts: Mutex<File>,
    journal: Mutex<File>,
}

fn journal_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".journal");
    PathBuf::from(name)
}

impl Record {
    /// Creates the record (refusing to overwrite one), or with `resume` opens an existing one
    /// made with the same seed.
    pub fn open(path: &Path, seed: u64, resume: bool) -> anyhow::Result<(Record, Resume)> {
        let journal = journal_path(path);
        let exists = path.exists() || journal.exists();
        if exists && !resume {
            bail!(
                "{} already exists: pass --resume to go on with it, or name another file",
                path.display()
            );
        }
        let plan = if exists {
            resume_from(path, &journal, seed)?
        } else {
            Resume::default()
        };
        let append = |p: &Path| {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("cannot write {}", p.display()))
        };
        let record = Record {
            facts: Mutex::new(append(path)?),
            journal: Mutex::new(append(&journal)?),
        };
        if !exists {
            record.write_journal(&serde_json::to_string(&Header { loadgen_seed: seed })?)?;
        }
        Ok((record, plan))
    }

    fn write_journal(&self, line: &str) -> anyhow::Result<()> {
        let mut journal = self
            .journal
            .lock()
            .map_err(|_| anyhow::anyhow!("journal lock"))?;
        writeln!(journal, "{line}").context("cannot write the journal")
    }

    /// Notes an event about to be sent.
    pub fn journal(&self, event: &Event) -> anyhow::Result<()> {
        let line = serde_json::to_string(&Journaled {
            route: event.route.clone(),
            body: event.body.clone(),
            fact: event.fact.clone(),
        })?;
        self.write_journal(&line)
    }

    /// Records an accepted event.
    pub fn accepted(&self, fact: &Fact) -> anyhow::Result<()> {
        let line = serde_json::to_string(fact)?;
        let mut facts = self
            .facts
            .lock()
            .map_err(|_| anyhow::anyhow!("record lock"))?;
        writeln!(facts, "{line}").context("cannot write the record")
    }
}

/// Every fact of a record file.
pub fn read_facts(path: &Path) -> anyhow::Result<Vec<Fact>> {
    let file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    BufReader::new(file)
        .lines()
        .enumerate()
        .filter(|(_, line)| line.as_ref().map_or(true, |l| !l.trim().is_empty()))
        .map(|(n, line)| {
            let line = line?;
            // A kill can cut the last line short; everything before it stands.
            serde_json::from_str(&line)
                .with_context(|| format!("{} line {}", path.display(), n + 1))
        })
        .collect()
}

fn resume_from(path: &Path, journal: &Path, seed: u64) -> anyhow::Result<Resume> {
    let recorded: HashSet<(Kind, String)> = if path.exists() {
        read_facts(path)
            .or_else(|_| read_complete_facts(path))?
            .into_iter()
            .map(|f| (f.kind, f.id))
            .collect()
    } else {
        HashSet::new()
    };
    let file = File::open(journal).with_context(|| {
        format!(
            "{} is missing: without it a run cannot be resumed",
            journal.display()
        )
    })?;
    let mut lines = BufReader::new(file).lines();
    let header: Header = serde_json::from_str(&lines.next().transpose()?.unwrap_or_default())
        .with_context(|| format!("{} has no header line", journal.display()))?;
    if header.loadgen_seed != seed {
        bail!(
            "{} was made with --seed {}; resume it with that seed",
            journal.display(),
            header.loadgen_seed
        );
    }
    let mut resume = Resume::default();
    let mut pending = HashSet::new();
    for line in lines {
        let line = line?;
        // The last line may be cut short by a kill: that event was never sent.
        let Ok(entry) = serde_json::from_str::<Journaled>(&line) else {
            continue;
        };
        resume.next_seq = resume.next_seq.max(entry.fact.seq + 1);
        let key = (entry.fact.kind, entry.fact.id.clone());
        if !recorded.contains(&key) && pending.insert(key) {
            resume.unsent.push(Event {
                route: entry.route,
                body: entry.body,
                fact: entry.fact,
            });
        }
    }
    Ok(resume)
}

/// The facts of a record whose last line was cut short.
fn read_complete_facts(path: &Path) -> anyhow::Result<Vec<Fact>> {
    let file = File::open(path)?;
    Ok(BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str(&line).ok())
        .collect())
}
