//! Performance counters of a domain from `GetStats` (typed parameters,
//! double-wrapped by libvirt-dbus), summed over disks and interfaces.
//! Counters are cumulative; a graph takes the difference of two reads.

use super::variant::Params;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DomainStats {
    /// CPU time used by the guest in nanoseconds, over all vCPUs.
    pub cpu_time_ns: Option<u64>,
    /// Memory the guest has (balloon), in KiB.
    pub memory_kib: Option<u64>,
    /// Memory the QEMU process really uses, in KiB.
    pub memory_rss_kib: Option<u64>,
    pub disk_read_bytes: u64,
    pub disk_write_bytes: u64,
    pub net_rx_bytes: u64,
    pub net_tx_bytes: u64,
}

impl DomainStats {
    /// `VIR_DOMAIN_STATS_STATE | CPU_TOTAL | BALLOON | INTERFACE | BLOCK`.
    pub const REQUEST: u32 = 1 | 2 | 4 | 16 | 32;

    pub fn from_params(params: &Params) -> Self {
        let sum = |count_key: &str, prefix: &str, field: &str| -> u64 {
            let count = params.u64(count_key).unwrap_or(0);
            (0..count)
                .filter_map(|i| params.u64(&format!("{prefix}.{i}.{field}")))
                .fold(0u64, u64::saturating_add)
        };
        Self {
            cpu_time_ns: params.u64("cpu.time"),
            memory_kib: params.u64("balloon.current"),
            memory_rss_kib: params.u64("balloon.rss"),
            disk_read_bytes: sum("block.count", "block", "rd.bytes"),
            disk_write_bytes: sum("block.count", "block", "wr.bytes"),
            net_rx_bytes: sum("net.count", "net", "rx.bytes"),
            net_tx_bytes: sum("net.count", "net", "tx.bytes"),
        }
    }
}
