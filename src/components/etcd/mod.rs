//! etcd: the Raft core, the member process around it, and the key-value store it replicates.

pub mod capacity;
pub mod kv;
pub mod log;
pub mod member;
pub mod quota;
pub mod raft;
pub mod types;
