//! The 2008 report as integration tests, with exact numbers, on SimFs.

use engine::append::{Delivery, deliver, imapd_expunge, set_deleted};
use engine::cyr_expire::{Annotations, cyr_expire};
use engine::layout::*;
use engine::mailbox::mailbox_create;
use engine::{Cx, Strategy, Version};

mod support;
use support::{DAY, EXPUNGE, SPAM, T0, World};

/// E = 5 records in cyrus.expunge (2 expunged 10 days ago, 3 one day ago), `n_old` live
/// messages sent 30 days ago in a folder whose annotation expires after 7 days.
fn blair_folder(w: &mut World, n_old: u32) {
    w.with("admin", |cx| mailbox_create(cx, SPAM, 1)).unwrap();
    let old = Delivery {
        sentdate: T0 - 30 * DAY,
        internaldate: T0 - 30 * DAY,
        size: 1000,
    };
    // Five messages the user deletes by hand: two of them 10 days ago.
    for _ in 0..5 {
        w.with("lmtpd", |cx| {
            deliver(
                cx,
                SPAM,
                Delivery {
                    sentdate: w_now(cx),
                    internaldate: w_now(cx),
                    size: 500,
                },
            )
        })
        .unwrap();
    }
    w.with("imapd", |cx| set_deleted(cx, SPAM, &[1, 2]))
        .unwrap();
    w.with("imapd", |cx| imapd_expunge(cx, SPAM)).unwrap();
    w.now += 9 * DAY;
    w.with("imapd", |cx| set_deleted(cx, SPAM, &[3, 4, 5]))
        .unwrap();
    w.with("imapd", |cx| imapd_expunge(cx, SPAM)).unwrap();
    w.now += DAY;
    for _ in 0..n_old {
        w.with("lmtpd", |cx| deliver(cx, SPAM, old)).unwrap();
    }
}

fn w_now(cx: &Cx) -> u32 {
    cx.now
}

fn annotations() -> Annotations {
    let mut a = Annotations::new();
    a.insert(SPAM.to_string(), 7);
    a
}

#[test]
fn cyrus_2_3_7_wraps_expunge_exists_while_e_minus_n2_records_remain() {
    let mut w = World::with_capacity(Version::V2_3_7, 1 << 30);
    blair_folder(&mut w, 4);
    let h = w.header(EXPUNGE).unwrap();
    assert_eq!(get32(&h, OFFSET_EXISTS), 5, "E = 5 before cyr_expire");

    let runs = w
        .with("cyr_expire", |cx| {
            cyr_expire(cx, &[SPAM.to_string()], &annotations(), Strategy::Cyrus237)
        })
        .unwrap();
    let report = runs[0].calls[0].as_ref().unwrap();
    assert_eq!(report.pass1.appended, 4, "N1 = 4 expired and appended");
    assert_eq!(
        report.pass2.as_ref().unwrap().decided_uids,
        vec![1, 2],
        "N2 = 2 purged"
    );

    let h = w.header(EXPUNGE).unwrap();
    let x = get32(&h, OFFSET_EXISTS);
    assert_eq!(
        x,
        5u32.wrapping_sub(4 + 2),
        "exists = (E - N1 - N2) mod 2^32"
    );
    assert_eq!(x, u32::MAX);
    let st = w.size(EXPUNGE).unwrap();
    assert_eq!(st.size, 96 + 3 * 80, "E - N2 = 3 records present");

    // The next delayed EXPUNGE writes at 96 + X * 80.
    w.now += DAY;
    w.with("lmtpd", |cx| {
        deliver(
            cx,
            SPAM,
            Delivery {
                sentdate: T0,
                internaldate: T0,
                size: 700,
            },
        )
    })
    .unwrap();
    w.with("imapd", |cx| set_deleted(cx, SPAM, &[10])).unwrap();
    w.with("imapd", |cx| imapd_expunge(cx, SPAM)).unwrap();
    let st = w.size(EXPUNGE).unwrap();
    assert_eq!(
        st.size,
        96 + u32::MAX as u64 * 80 + 80,
        "sparse file of exactly that size"
    );
    assert!(st.size > 3.4e11 as u64);
    assert!(
        st.allocated <= 16 * 1024,
        "a few KiB allocated, got {}",
        st.allocated
    );
    let h = w.header(EXPUNGE).unwrap();
    assert_eq!(get32(&h, OFFSET_EXISTS), 0, "X + 1 wraps to 0");
}

#[test]
fn the_2_3_12_upgrade_of_the_sparse_file_writes_real_bytes_until_enospc() {
    let capacity = 64 << 20;
    let mut w = World::with_capacity(Version::V2_3_7, capacity);
    // N1 = 6: exists = 5 - 6 - 2 = 2^32 - 3, and one more delayed expunge leaves 2^32 - 2.
    blair_folder(&mut w, 6);
    w.with("cyr_expire", |cx| {
        cyr_expire(cx, &[SPAM.to_string()], &annotations(), Strategy::Cyrus237)
    })
    .unwrap();
    w.with("lmtpd", |cx| {
        deliver(
            cx,
            SPAM,
            Delivery {
                sentdate: T0,
                internaldate: T0,
                size: 700,
            },
        )
    })
    .unwrap();
    w.with("imapd", |cx| set_deleted(cx, SPAM, &[12])).unwrap();
    w.with("imapd", |cx| imapd_expunge(cx, SPAM)).unwrap();
    let h = w.header(EXPUNGE).unwrap();
    assert_eq!(get32(&h, OFFSET_EXISTS), u32::MAX - 1);
    let sparse = w.size(EXPUNGE).unwrap();
    assert_eq!(sparse.size, 96 + (u32::MAX as u64 - 2) * 80 + 80);

    // The first 2.3.12 open upgrades cyrus.index, then cyrus.expunge: it walks 2^32 - 2
    // records of 80 bytes, writing 88 bytes each, until the partition is full.
    w.site.version = Version::V2_3_12;
    let r = w.with("imapd", |cx| {
        engine::mailbox::mailbox_open_and_lock(cx, SPAM).map(|_| ())
    });
    assert!(matches!(r, Err(engine::CyrusError::IoError(_))), "{r:?}");
    assert!(
        w.log
            .notes
            .iter()
            .any(|n| n.kind == engine::NoteKind::Enospc)
    );
    let new = w.size("user/bob/Spam/cyrus.expunge.NEW").unwrap();
    let (cap, used) = w.fs.partition();
    assert_eq!(cap, capacity);
    assert!(cap - used <= 4096, "partition full: {used} of {cap}");
    assert!(
        new.allocated > capacity - (1 << 20),
        "a real file: {} allocated",
        new.allocated
    );
    assert_eq!(new.size, new.allocated, "not sparse");
    // cyrus.index was upgraded and renamed before the expunge upgrade failed.
    let ih = w.header("user/bob/Spam/cyrus.index").unwrap();
    assert_eq!(get32(&ih, OFFSET_MINOR_VERSION), 10);
    let eh = w.header(EXPUNGE).unwrap();
    assert_eq!(
        get32(&eh, OFFSET_MINOR_VERSION),
        9,
        "cyrus.expunge is left at minor 9"
    );
}
