//! A network namespace of a test's own (root only): what it changes or
//! captures is nobody else's, and the kernel removes it when the test ends.

/// Runs `body` on a thread of its own in a network namespace of its own
/// (`unshare`, root only): the interfaces it changes are nobody else's, and
/// the kernel removes them with the namespace when the thread ends, passed or
/// panicked. The switch it starts (a child of that thread) lives there too.
pub(crate) fn in_own_netns(body: impl std::future::Future<Output = ()> + Send + 'static) {
    let thread = std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET) needs root");
        ip(&["link", "set", "lo", "up"]);
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(body);
    });
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

/// `ip ARGS` in the calling thread's network namespace.
pub(crate) fn ip(args: &[&str]) {
    let out = std::process::Command::new("ip").args(args).output().unwrap();
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}
