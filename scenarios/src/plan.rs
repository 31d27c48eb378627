//! From a scenario file to the executor's input: the site, the filesystem's configuration,
//! and the schedule with every range drawn from the seed and every `{user}` expanded.

use engine::Site;
use sim::{Coherence, FaultAction, FaultPlan, SimConfig};

use crate::executor::{Op, Setup};
use crate::scenario::*;

/// Most ops one schedule may expand to: a typo in a `repeat` must not eat the machine.
pub const MAX_OPS: usize = 1_000_000;

pub fn fault_action(f: FaultName) -> FaultAction {
    match f {
        FaultName::Eio => FaultAction::Eio,
        FaultName::ShortWrite => FaultAction::ShortWrite,
        FaultName::Enospc => FaultAction::NoSpc,
        FaultName::Kill => FaultAction::Kill,
        FaultName::PowerLoss => FaultAction::PowerLoss,
    }
}

pub fn setup(sc: &Scenario, seed: u64) -> Setup {
    let f = &sc.file;
    let mut site = Site::new(f.site.version.0);
    site.arch = f.site.arch.0;
    site.expunge_mode = f.site.expunge_mode.0;
    site.expire_rule = f.site.expire_rule.0;
    site.expunge_days = f.site.expunge_days;
    site.alloc_limit = if f.site.alloc_limit == 0 {
        site.arch.default_alloc_limit()
    } else {
        f.site.alloc_limit
    };
    let (coherence, variant) = match f.fs.coherence {
        CoherenceName::Shared => (Coherence::Shared, engine::MapVariant::Shared),
        CoherenceName::Stupidshared => (Coherence::StupidShared, engine::MapVariant::StupidShared),
        CoherenceName::Nommap => (Coherence::NoMmap, engine::MapVariant::NoMmap),
    };
    // Cyrus's configure picks the map variant by probing the filesystem: keep them in step.
    site.map_variant = variant;
    let mut faults = FaultPlan::default();
    for x in &f.fs.faults {
        faults = faults.with(x.at_call, fault_action(x.action));
    }
    if f.fs.fault_rate > 0 {
        let random = FaultPlan::random(
            seed,
            f.fs.fault_rate,
            &[FaultAction::Eio, FaultAction::ShortWrite],
        );
        for r in random.rules {
            faults.rules.push(r);
        }
        faults.random = random.random;
    }
    let sim = SimConfig {
        coherence,
        page_size: f.fs.page_size,
        block_size: f.fs.block_size,
        capacity: f.fs.capacity.0,
        page_staleness: f.fs.page_staleness,
        map_tail: match f.fs.map_tail {
            MapTailName::Fault => sim::MapTail::Fault,
            MapTailName::Page => sim::MapTail::Page,
        },
        short_write_on_enospc: f.fs.short_write_on_enospc,
        faults,
        // The oracles read a clone of the filesystem after every op: a clone copies the kept
        // trace entries, and no run reads them (the digest covers every call regardless).
        trace_keep: 0,
        ..SimConfig::default()
    };
    Setup {
        scenario: sc.name.clone(),
        site,
        sim,
        start: f.clock.start,
    }
}

/// Expand the schedule. Errors name the step.
pub fn ops(sc: &Scenario, seed: u64) -> Result<Vec<Op>, String> {
    let mut rng = Rng::new(seed);
    let users = sc.file.users.count.draw(&mut rng).max(1);
    let names: Vec<String> = (1..=users).map(|i| format!("u{i}")).collect();
    let mut out = Vec::new();
    for m in &sc.file.mailboxes {
        for name in expand(&m.name, &names) {
            let expire_days = m.expire_days.map(|p| p.draw(&mut rng) as u32);
            out.push(Op::Create {
                mailbox: name,
                expire_days,
            });
        }
    }
    for (i, step) in sc.file.steps.iter().enumerate() {
        expand_step(step, &names, &mut rng, &mut out)
            .map_err(|e| format!("step {} ({}): {e}", i + 1, kind(step)))?;
    }
    Ok(out)
}

fn kind(s: &StepSpec) -> &'static str {
    match s {
        StepSpec::Deliver { .. } => "deliver",
        StepSpec::Delete { .. } => "delete",
        StepSpec::Expunge { .. } => "expunge",
        StepSpec::Open { .. } => "open",
        StepSpec::CyrExpire {} => "cyr_expire",
        StepSpec::Reconstruct { .. } => "reconstruct",
        StepSpec::Advance { .. } => "advance",
        StepSpec::Upgrade { .. } => "upgrade",
        StepSpec::Annotate { .. } => "annotate",
        StepSpec::Arm { .. } => "arm",
        StepSpec::PowerLoss {} => "power_loss",
        StepSpec::Repeat { .. } => "repeat",
    }
}

fn expand(name: &str, users: &[String]) -> Vec<String> {
    if name.contains("{user}") {
        users.iter().map(|u| name.replace("{user}", u)).collect()
    } else {
        vec![name.to_string()]
    }
}

fn push(out: &mut Vec<Op>, op: Op) -> Result<(), String> {
    if out.len() >= MAX_OPS {
        return Err(format!("the schedule expands past {MAX_OPS} operations"));
    }
    out.push(op);
    Ok(())
}

fn u32_of(v: u64, what: &str) -> Result<u32, String> {
    u32::try_from(v).map_err(|_| format!("{what} {v} does not fit in 32 bits"))
}

fn expand_step(
    s: &StepSpec,
    users: &[String],
    rng: &mut Rng,
    out: &mut Vec<Op>,
) -> Result<(), String> {
    match s {
        StepSpec::Deliver {
            mailbox,
            count,
            sent_age_days,
            size,
        } => {
            for m in expand(mailbox, users) {
                let n = count.draw(rng);
                for _ in 0..n {
                    let op = Op::Deliver {
                        mailbox: m.clone(),
                        sent_age_days: u32_of(sent_age_days.draw(rng), "sent_age_days")?,
                        size: u32_of(size.draw(rng), "size")?,
                    };
                    push(out, op)?;
                }
            }
        }
        StepSpec::Delete {
            mailbox,
            count,
            random,
        } => {
            for m in expand(mailbox, users) {
                let count = u32_of(count.draw(rng), "count")?;
                push(
                    out,
                    Op::Delete {
                        mailbox: m,
                        count,
                        random: *random,
                    },
                )?;
            }
        }
        StepSpec::Expunge { mailbox } => {
            for m in expand(mailbox, users) {
                push(out, Op::Expunge { mailbox: m })?;
            }
        }
        StepSpec::Open { mailbox } => {
            for m in expand(mailbox, users) {
                push(out, Op::Open { mailbox: m })?;
            }
        }
        StepSpec::CyrExpire {} => push(out, Op::CyrExpire)?,
        StepSpec::Reconstruct { mailbox, keep } => {
            for m in expand(mailbox, users) {
                push(
                    out,
                    Op::Reconstruct {
                        mailbox: m,
                        keep: *keep,
                    },
                )?;
            }
        }
        StepSpec::Advance { days, hours } => {
            let secs = days.draw(rng) * 86_400 + hours.draw(rng) * 3600;
            push(
                out,
                Op::Advance {
                    secs: u32_of(secs, "advance")?,
                },
            )?;
        }
        StepSpec::Upgrade { version } => push(out, Op::Upgrade { version: version.0 })?,
        StepSpec::Annotate {
            mailbox,
            expire_days,
        } => {
            for m in expand(mailbox, users) {
                let expire_days = match expire_days {
                    Some(p) => Some(u32_of(p.draw(rng), "expire_days")?),
                    None => None,
                };
                push(
                    out,
                    Op::Annotate {
                        mailbox: m,
                        expire_days,
                    },
                )?;
            }
        }
        StepSpec::Arm {
            action,
            after_calls,
        } => push(
            out,
            Op::Arm {
                action: fault_action(*action),
                after_calls: after_calls.draw(rng).max(1),
            },
        )?,
        StepSpec::PowerLoss {} => push(out, Op::PowerLoss)?,
        StepSpec::Repeat { times, steps } => {
            for _ in 0..times.draw(rng) {
                for st in steps {
                    expand_step(st, users, rng, out)?;
                }
            }
        }
    }
    Ok(())
}
