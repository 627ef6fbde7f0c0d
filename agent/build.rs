//! `cfg(linux_kernel)`: the parts that need Linux (netlink address events,
//! the timerfd, MAC lookup through the kernel's interfaces) are built on
//! Linux with the `linux` feature (a default one); without them the agent
//! polls the host's addresses and sleeps on tokio's timer.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(linux_kernel)");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if linux && std::env::var_os("CARGO_FEATURE_LINUX").is_some() {
        println!("cargo::rustc-cfg=linux_kernel");
    }
}
