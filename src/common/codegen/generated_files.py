"""Writing and checking the generated files a code generator commits.

Shared by src/amqp091/codegen/gen_amqp091.py and
src/amqp10/codegen/gen_amqp10.py: each builds a {file name: text} map, then
either writes it or, with --check (a CTest), compares it with what is
committed, so generated code cannot drift from its generator.
"""
import difflib
import os
import sys
import tempfile


def write(files, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for name, text in files.items():
        with open(os.path.join(out_dir, name), "w", encoding="utf-8", newline="\n") as f:
            f.write(text)


def check(files, committed_dir, label, generator):
    """Regenerates into a temporary directory and diffs it against `committed_dir`.

    `label` names the directory in messages; `generator` is the script to run.
    Returns a process exit status.
    """
    drift = False
    with tempfile.TemporaryDirectory() as tmp:
        write(files, tmp)
        for name in sorted(set(os.listdir(tmp)) | set(os.listdir(committed_dir))):
            fresh, committed = os.path.join(tmp, name), os.path.join(committed_dir, name)
            if not os.path.exists(committed) or not os.path.exists(fresh):
                print("%s: %s" % (name, "missing" if os.path.exists(fresh) else "not generated (stale?)"))
                drift = True
                continue
            with open(fresh, encoding="utf-8") as f:
                a = f.readlines()
            with open(committed, encoding="utf-8") as f:
                c = f.readlines()
            if a != c:
                drift = True
                sys.stdout.writelines(difflib.unified_diff(c, a, "committed/" + name, "generated/" + name))
    if drift:
        print("%s is out of date: run %s and commit." % (label, generator))
        return 1
    print("%s matches the generator." % label)
    return 0
