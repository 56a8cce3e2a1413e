"""Builds the Proton C and C++ examples that Debian ships in
libqpid-proton11-dev-examples (/usr/share/proton/examples/), unchanged, into
a build directory (never into the source tree), as their
Makefile.pkgconfig would: gcc/g++ with pkg-config's flags.

Debian's libqpid-proton-cpp.pc requires libqpid-proton-core and
libqpid-proton-proactor, which no Debian package provides (the C library
ships as one libqpid-proton.pc), so when pkg-config refuses the C++ module
we link -lqpid-proton-cpp plus libqpid-proton's flags ourselves.
"""
import fcntl
import os
import shlex
import shutil
import subprocess

EXAMPLES = "/usr/share/proton/examples"
BUILD_DIR = os.environ.get("WARREN_AMQP10_BUILD_DIR") or f"/tmp/warren-amqp10-examples-{os.getuid()}"


def pkg_config(*modules):
    r = subprocess.run(["pkg-config", "--cflags", "--libs", *modules], capture_output=True, text=True)
    return shlex.split(r.stdout) if r.returncode == 0 else None


def flags(lang):
    if lang == "c":
        return pkg_config("libqpid-proton") or ["-lqpid-proton"]
    return pkg_config("libqpid-proton-cpp") or ["-lqpid-proton-cpp", *(pkg_config("libqpid-proton") or ["-lqpid-proton"])]


def compiler(lang):
    cc = "gcc" if lang == "c" else "g++"
    return ["ccache", cc] if shutil.which("ccache") else [cc]


def build(lang, names):
    """Builds /usr/share/proton/examples/<lang>/<name>.<c|cpp> for each name
    (only when the binary is missing or older than its source); returns
    {name: path}. Two at a time, under a lock: test classes run in parallel."""
    src_dir = os.path.join(EXAMPLES, lang)
    out_dir = os.path.join(BUILD_DIR, lang)
    os.makedirs(out_dir, exist_ok=True)
    ext = "c" if lang == "c" else "cpp"
    paths = {n: os.path.join(out_dir, n) for n in names}
    with open(os.path.join(BUILD_DIR, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        todo = []
        for n in names:
            src = os.path.join(src_dir, f"{n}.{ext}")
            if not os.path.exists(src):
                raise RuntimeError(f"{src} is missing: is libqpid-proton11-dev-examples installed?")
            if not os.path.exists(paths[n]) or os.path.getmtime(paths[n]) < os.path.getmtime(src):
                todo.append((n, src))
        while todo:
            batch, todo = todo[:2], todo[2:]
            procs = [(n, subprocess.Popen([*compiler(lang), "-g", "-o", paths[n] + ".tmp", src, *flags(lang),
                                           "-lpthread"], cwd=out_dir, stdout=subprocess.PIPE,
                                          stderr=subprocess.STDOUT, text=True)) for n, src in batch]
            for n, p in procs:
                out, _ = p.communicate(timeout=300)
                if p.returncode != 0:
                    raise RuntimeError(f"building the {lang} example {n} failed:\n{out}")
                os.replace(paths[n] + ".tmp", paths[n])
    return paths
