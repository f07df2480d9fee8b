#!/usr/bin/python3
"""sandbox.py: run a command inside the sandbox a systemd unit would give it, without systemd.

Why this file exists: CI runs in a container whose PID 1 is not systemd, so the units of deploy/
cannot be started for real. `systemd-analyze verify/security` only read them. What can go wrong
in production is the daemon itself failing under the hardening (a W+X mapping from a codec or
OpenCV, a syscall outside @system-service, a write outside the state directory, a socket of a
forbidden family). This helper reproduces those parts of systemd 252's execution environment
with the same kernel mechanisms, from a spec that tests/deploy/test_deploy.py derives from the
unit file, then execs the command:

- ProtectSystem=strict: a private mount namespace where every mount is read-only except /dev,
  /proc, /sys and the writable paths (the StateDirectory= folders) (root only);
- DynamicUser=: a uid/gid with no passwd entry, no supplementary groups (root only);
- ProtectProc=invisible, ProcSubset=pid: a procfs of our own with hidepid=invisible and
  subset=pid (root only);
- UMask=, NoNewPrivileges=;
- MemoryDenyWriteExecute=: systemd 252's seccomp rules (mmap with PROT_WRITE|PROT_EXEC,
  mprotect/pkey_mprotect with PROT_EXEC, shmat with SHM_EXEC fail with EPERM);
- RestrictAddressFamilies=: socket() of another family fails with EAFNOSUPPORT;
- SystemCallArchitectures=native and SystemCallFilter= (allow groups minus ~deny groups, as
  `systemd-analyze syscall-filter` lists them), other syscalls fail with SystemCallErrorNumber=.

Not reproduced: PrivateTmp, PrivateDevices, ProtectKernel*, namespaces and
capability bounding (all take things away that the daemon never touches; the score of
`systemd-analyze security` covers that they are set). x86_64 only (syscall numbers).

Usage: sandbox.py SPEC.json -- COMMAND ARG...
"""
import ctypes
import errno
import json
import os
import re
import subprocess
import sys

libc = ctypes.CDLL(None, use_errno=True)

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
CLONE_NEWNS = 0x00020000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21

AUDIT_ARCH_X86_64 = 0xC000003E
RET_KILL_PROCESS, RET_ALLOW, RET_ERRNO = 0x80000000, 0x7FFF0000, 0x00050000
LD_W_ABS, JEQ, JGE, JSET, AND_K, RET = 0x20, 0x15, 0x35, 0x45, 0x54, 0x06
OFF_NR, OFF_ARCH = 0, 4
PROT_WRITE, PROT_EXEC, SHM_EXEC = 2, 4, 0o100000
FAMILIES = {"AF_UNIX": 1, "AF_LOCAL": 1, "AF_INET": 2, "AF_INET6": 10, "AF_NETLINK": 16,
            "AF_PACKET": 17}


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


def die(what):
    sys.stderr.write(f"sandbox: {what}\n")
    sys.exit(126)


def check(rc, what):
    if rc != 0:
        die(f"{what}: {os.strerror(ctypes.get_errno())}")


def syscall_numbers():
    """x86_64 syscall name -> number, from the kernel headers (linux-libc-dev)."""
    nums = {}
    for path in ("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "/usr/include/asm/unistd_64.h"):
        if os.path.exists(path):
            for m in re.finditer(r"#define __NR_(\w+)\s+(\d+)", open(path).read()):
                nums[m.group(1)] = int(m.group(2))
            return nums
    die("no x86_64 syscall table (linux-libc-dev)")


def syscall_groups():
    """systemd's syscall groups (`systemd-analyze syscall-filter`): name -> set of members."""
    out = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True,
                         check=True).stdout
    groups, cur = {}, None
    for line in out.splitlines():
        if line.startswith("@"):
            cur = groups.setdefault(line.strip(), set())
        elif cur is not None and line.strip() and not line.strip().startswith("#"):
            cur.add(line.strip())
    return groups


def expand(names, groups, seen=None):
    seen = set() if seen is None else seen
    out = set()
    for n in names:
        if n.startswith("@"):
            if n not in seen:
                seen.add(n)
                out |= expand(groups[n], groups, seen)
        else:
            out.add(n)
    return out


def filter_program(spec):
    """The BPF program: arch, MDWE rules, socket families, syscall allow list."""
    nums = syscall_numbers()
    groups = syscall_groups()
    err = getattr(errno, spec.get("errno") or "EPERM")
    prog = [(LD_W_ABS, 0, 0, OFF_ARCH), (JEQ, 1, 0, AUDIT_ARCH_X86_64),
            (RET, 0, 0, RET_KILL_PROCESS),
            (LD_W_ABS, 0, 0, OFF_NR), (JGE, 0, 1, 0x40000000),  # x32 ABI: not native
            (RET, 0, 0, RET_KILL_PROCESS)]

    def arg(i):
        return (LD_W_ABS, 0, 0, 16 + 8 * i)  # low 32 bits of args[i] (little endian)

    eperm = (RET, 0, 0, RET_ERRNO | errno.EPERM)
    reload_nr = (LD_W_ABS, 0, 0, OFF_NR)
    if spec.get("mdwe"):
        block = [arg(2), (AND_K, 0, 0, PROT_WRITE | PROT_EXEC),
                 (JEQ, 0, 1, PROT_WRITE | PROT_EXEC), eperm, reload_nr]
        prog += [(JEQ, 0, len(block), nums["mmap"])] + block
        for name in ("mprotect", "pkey_mprotect"):
            block = [arg(2), (JSET, 0, 1, PROT_EXEC), eperm, reload_nr]
            prog += [(JEQ, 0, len(block), nums[name])] + block
        block = [arg(2), (JSET, 0, 1, SHM_EXEC), eperm, reload_nr]
        prog += [(JEQ, 0, len(block), nums["shmat"])] + block
    allowed = expand(spec.get("syscall_allow") or ["@known"], groups)
    allowed -= expand(spec.get("syscall_deny") or [], groups)
    if not spec.get("syscall_allow"):
        allowed = set(nums)
    families = [FAMILIES[f] for f in spec.get("families") or []]
    if families and "socket" in allowed:
        n = len(families)
        block = [arg(0)] + [(JEQ, n - i, 0, fam) for i, fam in enumerate(families)]
        block += [(RET, 0, 0, RET_ERRNO | errno.EAFNOSUPPORT), (RET, 0, 0, RET_ALLOW)]
        prog += [(JEQ, 0, len(block), nums["socket"])] + block
    for name in sorted(allowed):
        if name in nums:
            prog += [(JEQ, 0, 1, nums[name]), (RET, 0, 0, RET_ALLOW)]
    prog.append((RET, 0, 0, RET_ERRNO | err))
    return prog


def private_mounts():
    check(libc.unshare(CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")


def private_proc(options):
    """ProtectProc=invisible (hidepid) and ProcSubset=pid (subset): a new procfs on /proc."""
    check(libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC,
                     ",".join(options).encode()), f"mount proc -o {','.join(options)}")


def read_only_system(writable):
    """ProtectSystem=strict: all mounts read-only but /dev, /proc, /sys and `writable`."""
    for w in writable:
        check(libc.mount(w.encode(), w.encode(), None, MS_BIND | MS_REC, None), f"bind {w}")
    keep = [os.path.realpath(w) for w in writable]
    for line in open("/proc/self/mountinfo"):
        f = line.split()
        mp = f[4].encode().decode("unicode_escape")
        opts = f[5].split(",")
        if any(mp == p or mp.startswith(p.rstrip("/") + "/") for p in ["/dev", "/proc", "/sys"]):
            continue
        if any(mp == k or mp.startswith(k + "/") for k in keep):
            continue
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY
        for name, bit in (("nosuid", MS_NOSUID), ("nodev", MS_NODEV), ("noexec", MS_NOEXEC),
                          ("noatime", MS_NOATIME), ("nodiratime", MS_NODIRATIME),
                          ("relatime", MS_RELATIME)):
            flags |= bit if name in opts else 0
        if libc.mount(None, mp.encode(), None, flags, None) != 0:
            e = ctypes.get_errno()
            if e not in (errno.ENOENT, errno.EACCES):  # a mount hidden below another one
                die(f"remount {mp} read-only: {os.strerror(e)}")


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        die("usage: sandbox.py SPEC.json -- COMMAND ARG...")
    spec = json.load(open(sys.argv[1]))
    argv = sys.argv[3:]
    prog = filter_program(spec) if spec.get("seccomp", True) else None
    if os.geteuid() == 0:
        proc = [o for o in (spec.get("proc_hidepid"), spec.get("proc_subset")) if o]
        if spec.get("protect_system_strict") or proc:
            private_mounts()
        if proc:
            private_proc(proc)
        if spec.get("protect_system_strict"):
            read_only_system(spec.get("writable", []))
        if spec.get("uid") is not None:
            os.setgroups([])
            os.setgid(spec["gid"])
            os.setuid(spec["uid"])
    if spec.get("umask") is not None:
        os.umask(int(spec["umask"], 8))
    if spec.get("no_new_privs", True) or prog:
        check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS")
    if prog:
        arr = (SockFilter * len(prog))(*[SockFilter(*ins) for ins in prog])
        fprog = SockFprog(len(prog), arr)
        check(libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0),
              "seccomp filter")
    os.execve(argv[0], argv, os.environ)


if __name__ == "__main__":
    main()
