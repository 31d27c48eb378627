//! A state-machine test of `SimFs` against the reference model of `sim::testing`
//! (proptest-state-machine): transitions are `Vfs` calls drawn with the reference state in
//! view (calls on fds that are open and paths that exist are likelier), the system under
//! test is `SimFs` paired with the model, and after every transition every path's contents
//! must match. The `sim_model` fuzz target drives the same checker from raw bytes.

use proptest::prelude::*;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use sim::testing::{Checker, ModelOp, PATHS, PROCS};

/// What the generator needs to know: which paths exist and how many fds each slot holds.
#[derive(Debug, Clone, Default)]
struct Shape {
    exists: [bool; PATHS.len()],
    fds: [u8; PROCS],
}

struct Reference;

impl ReferenceStateMachine for Reference {
    type State = Shape;
    type Transition = ModelOp;

    fn init_state() -> BoxedStrategy<Shape> {
        Just(Shape::default()).boxed()
    }

    fn transitions(state: &Shape) -> BoxedStrategy<ModelOp> {
        let any_file = state.exists.iter().any(|&e| e);
        let any_fd = state.fds.iter().any(|&n| n > 0);
        let open = (
            any::<u8>(),
            any::<u8>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(slot, path, create, truncate, append)| ModelOp::Open {
                slot,
                path,
                write: true,
                create: create || path % 2 == 0,
                exclusive: false,
                truncate,
                append,
            });
        let io =
            prop_oneof![
                (any::<u8>(), any::<u8>(), 0u16..3000, any::<u8>()).prop_map(
                    |(slot, fd, len, byte)| ModelOp::Write {
                        slot,
                        fd,
                        len,
                        byte
                    }
                ),
                (
                    any::<u8>(),
                    any::<u8>(),
                    0u16..3000,
                    any::<u8>(),
                    0u32..70_000
                )
                    .prop_map(|(slot, fd, len, byte, offset)| ModelOp::Pwrite {
                        slot,
                        fd,
                        len,
                        byte,
                        offset
                    }),
                (any::<u8>(), any::<u8>(), 0u16..3000).prop_map(|(slot, fd, len)| ModelOp::Read {
                    slot,
                    fd,
                    len
                }),
                (any::<u8>(), any::<u8>(), 0u16..3000, 0u32..70_000).prop_map(
                    |(slot, fd, len, offset)| ModelOp::Pread {
                        slot,
                        fd,
                        len,
                        offset
                    }
                ),
                (any::<u8>(), any::<u8>(), -5000i32..70_000, any::<u8>()).prop_map(
                    |(slot, fd, offset, whence)| ModelOp::Seek {
                        slot,
                        fd,
                        offset,
                        whence
                    }
                ),
                (any::<u8>(), any::<u8>(), 0u32..70_000)
                    .prop_map(|(slot, fd, len)| ModelOp::Truncate { slot, fd, len }),
                (any::<u8>(), any::<u8>(), 0u32..20_000)
                    .prop_map(|(slot, fd, len)| ModelOp::Mmap { slot, fd, len }),
                (any::<u8>(), any::<u8>(), 0u32..20_000, 0u16..5000).prop_map(
                    |(slot, map, offset, len)| ModelOp::MapRead {
                        slot,
                        map,
                        offset,
                        len
                    }
                ),
                (any::<u8>(), any::<u8>()).prop_map(|(slot, fd)| ModelOp::Close { slot, fd }),
                (any::<u8>(), any::<u8>()).prop_map(|(slot, fd)| ModelOp::Fstat { slot, fd }),
            ];
        let names =
            prop_oneof![
                (any::<u8>(), any::<u8>(), any::<u8>())
                    .prop_map(|(slot, from, to)| ModelOp::Rename { slot, from, to }),
                (any::<u8>(), any::<u8>()).prop_map(|(slot, path)| ModelOp::Unlink { slot, path }),
                any::<u8>().prop_map(|path| ModelOp::Stat { path }),
                any::<u8>().prop_map(|slot| ModelOp::Respawn { slot }),
                (any::<u8>(), any::<u8>()).prop_map(|(slot, map)| ModelOp::Munmap { slot, map }),
            ];
        match (any_file, any_fd) {
            (_, true) => prop_oneof![2 => open, 6 => io, 2 => names].boxed(),
            (true, false) => prop_oneof![5 => open, 1 => io, 2 => names].boxed(),
            (false, false) => prop_oneof![8 => open, 1 => names].boxed(),
        }
    }

    fn apply(mut state: Shape, t: &ModelOp) -> Shape {
        // A rough shape is enough to steer generation; the checker holds the exact model.
        match *t {
            ModelOp::Open {
                slot, path, create, ..
            } => {
                let p = usize::from(path) % PATHS.len();
                if create || state.exists[p] {
                    state.exists[p] = true;
                    state.fds[usize::from(slot) % PROCS] += 1;
                }
            }
            ModelOp::Close { slot, .. } => {
                let s = usize::from(slot) % PROCS;
                state.fds[s] = state.fds[s].saturating_sub(1);
            }
            ModelOp::Respawn { slot } => state.fds[usize::from(slot) % PROCS] = 0,
            ModelOp::Unlink { path, .. } => state.exists[usize::from(path) % PATHS.len()] = false,
            ModelOp::Rename { from, to, .. } => {
                let (f, t) = (
                    usize::from(from) % PATHS.len(),
                    usize::from(to) % PATHS.len(),
                );
                if state.exists[f] && f != t {
                    state.exists[f] = false;
                    state.exists[t] = true;
                }
            }
            _ => {}
        }
        state
    }
}

struct SimFsUnderTest;

impl StateMachineTest for SimFsUnderTest {
    type SystemUnderTest = Checker;
    type Reference = Reference;

    fn init_test(_: &Shape) -> Checker {
        Checker::new()
    }

    fn apply(mut c: Checker, _: &Shape, t: ModelOp) -> Checker {
        if let Err(e) = c.apply(&t) {
            panic!("{e}");
        }
        c
    }

    fn check_invariants(c: &Checker, _: &Shape) {
        // Contents are compared through a clone, so the check is not a call of the run.
        let mut probe = Checker::clone_of(c);
        if let Err(e) = probe.check_contents() {
            panic!("{e}");
        }
    }
}

prop_state_machine! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn simfs_behaves_like_the_reference_model(sequential 1..60 => SimFsUnderTest);
}
