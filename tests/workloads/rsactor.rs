// SPDX-License-Identifier: Apache-2.0
//! An actor in Rust (docs/actors.md), built by Debian's rustc for
//! wasm32-wasi: the three calls of import module "mvm" behind a small
//! safe wrapper (module `mvm`, the Rust counterpart of
//! lib/proto/mvm-actor.h), and a main that loops on wait with its state
//! (a counter, a map) kept between messages:
//!
//!   incr            the number of incr so far, counting this one
//!   put K V / get K a key-value store
//!   stats           "msgs=N keys=K"
//!   send IFACE MSG  send MSG to the interface, answer "status=S data=D"
//!   anything else   echoed back

mod mvm {
    /// What wait fills in (struct mvm_actor_info).
    #[repr(C)]
    #[derive(Default)]
    pub struct Info {
        pub id: u64,
        pub len: u32,
        pub status: i32,
        pub from: u32,
        pub pad: u32,
    }

    pub const REQUEST: i32 = 1;
    pub const ANSWER: i32 = 2;
    pub const STOP: i32 = 3;
    pub const MSG_MAX: usize = 65536;
    pub const IFACE_LEN: usize = 71;

    #[link(wasm_import_module = "mvm")]
    extern "C" {
        #[link_name = "send"]
        fn raw_send(iface: *const u8, msg: *const u8, len: u32) -> i64;
        #[link_name = "answer"]
        fn raw_answer(id: u64, msg: *const u8, len: u32) -> i32;
        #[link_name = "wait"]
        fn raw_wait(buf: *mut u8, cap: u32, info: *mut Info, timeout_ns: i64) -> i32;
    }

    /// Send msg to iface ("sha256:<64 hex>"): the send's id, or -errno.
    pub fn send(iface: &str, msg: &[u8]) -> Result<u64, i32> {
        if iface.len() != IFACE_LEN {
            return Err(-22);
        }
        let r = unsafe { raw_send(iface.as_ptr(), msg.as_ptr(), msg.len() as u32) };
        if r > 0 { Ok(r as u64) } else { Err(r as i32) }
    }

    /// Answer message id: 0 or -errno.
    pub fn answer(id: u64, msg: &[u8]) -> i32 {
        unsafe { raw_answer(id, msg.as_ptr(), msg.len() as u32) }
    }

    /// Wait for a message, an answer, a stop (< 0 timeout: for ever).
    pub fn wait(buf: &mut [u8], info: &mut Info, timeout_ns: i64) -> i32 {
        unsafe { raw_wait(buf.as_mut_ptr(), buf.len() as u32, info, timeout_ns) }
    }
}

use std::collections::HashMap;

fn send_and_wait(iface: &str, msg: &str, buf: &mut [u8]) -> String {
    let sid = match mvm::send(iface, msg.as_bytes()) {
        Ok(id) => id,
        Err(e) => return format!("status={} data=", e),
    };
    loop {
        let mut info = mvm::Info::default();
        let k = mvm::wait(buf, &mut info, -1);
        if k == mvm::STOP {
            std::process::exit(0);
        }
        if k == mvm::ANSWER && info.id == sid {
            let n = (info.len as usize).min(buf.len());
            return format!("status={} data={}", info.status, String::from_utf8_lossy(&buf[..n]));
        }
    }
}

fn main() {
    let mut buf = vec![0u8; mvm::MSG_MAX];
    let mut kv: HashMap<String, String> = HashMap::new();
    let (mut incrs, mut msgs) = (0u64, 0u64);

    println!("rust actor ready");
    loop {
        let mut info = mvm::Info::default();
        let k = mvm::wait(&mut buf, &mut info, -1);
        if k == mvm::STOP {
            println!("rust actor stopping after {} messages", msgs);
            return;
        }
        if k != mvm::REQUEST {
            continue;
        }
        msgs += 1;
        let n = (info.len as usize).min(buf.len());
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        let reply = if text == "incr" {
            incrs += 1;
            incrs.to_string()
        } else if let Some(rest) = text.strip_prefix("put ") {
            match rest.split_once(' ') {
                Some((key, v)) => {
                    kv.insert(key.to_string(), v.to_string());
                    "ok".to_string()
                }
                None => "error".to_string(),
            }
        } else if let Some(key) = text.strip_prefix("get ") {
            kv.get(key).cloned().unwrap_or_else(|| "(none)".to_string())
        } else if text == "stats" {
            format!("msgs={} keys={}", msgs, kv.len())
        } else if let Some(rest) = text.strip_prefix("send ") {
            match rest.split_once(' ') {
                Some((iface, m)) => send_and_wait(iface, m, &mut buf),
                None => send_and_wait(rest, "", &mut buf),
            }
        } else {
            text.clone()
        };
        mvm::answer(info.id, reply.as_bytes());
    }
}
