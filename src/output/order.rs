//! Reports hosts in inventory order. Hosts of a lock-step task run
//! concurrently and finish in any order; the printer holds back a host's
//! lines until every host before it has finished the task, so the output
//! is the same from run to run (each host's lines still appear as soon as
//! the hosts before it are done).

use std::collections::{HashMap, HashSet};

use super::events::PlaybookEvent;

#[derive(Default)]
pub struct Orderer {
    order: Vec<String>,
    next: usize,
    held: HashMap<String, Vec<PlaybookEvent>>,
    finished: HashSet<String>,
}

fn host_of(ev: &PlaybookEvent) -> Option<(&str, bool)> {
    match ev {
        PlaybookEvent::Result(r) => Some((&r.host, r.item.is_none())),
        PlaybookEvent::Retrying { host, .. } => Some((host, false)),
        PlaybookEvent::HandlerNotified { host, .. } => Some((host, false)),
        PlaybookEvent::Included { hosts, .. } if hosts.len() == 1 => Some((&hosts[0], true)),
        _ => None,
    }
}

impl Orderer {
    /// Takes one event; returns the events that may be printed now.
    pub fn push(&mut self, ev: PlaybookEvent) -> Vec<PlaybookEvent> {
        let mut out = Vec::new();
        if let PlaybookEvent::TaskHosts(hosts) = &ev {
            self.flush(&mut out);
            self.order = hosts.clone();
            self.next = 0;
            return out;
        }
        let Some((host, finishing)) = host_of(&ev) else {
            self.flush(&mut out);
            out.push(ev);
            return out;
        };
        let host = host.to_string();
        match self.order.iter().position(|h| *h == host) {
            None => out.push(ev),
            Some(i) if i == self.next => {
                out.push(ev);
                if finishing {
                    self.next += 1;
                    self.drain(&mut out);
                }
            }
            Some(_) => {
                if finishing {
                    self.finished.insert(host.clone());
                }
                self.held.entry(host).or_default().push(ev);
            }
        }
        out
    }

    /// Releases held lines of the hosts now at the front.
    fn drain(&mut self, out: &mut Vec<PlaybookEvent>) {
        while let Some(h) = self.order.get(self.next).cloned() {
            if let Some(evs) = self.held.remove(&h) {
                out.extend(evs);
            }
            if self.finished.remove(&h) {
                self.next += 1;
            } else {
                break;
            }
        }
    }

    /// Releases everything held, in order (the task is over).
    pub fn flush(&mut self, out: &mut Vec<PlaybookEvent>) {
        for h in &self.order {
            if let Some(evs) = self.held.remove(h) {
                out.extend(evs);
            }
        }
        for (_, evs) in self.held.drain() {
            out.extend(evs);
        }
        self.finished.clear();
        self.order.clear();
        self.next = 0;
    }
}
