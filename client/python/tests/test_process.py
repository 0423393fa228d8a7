"""test_process: logbus.run, logbus.Process and logbus.report_exit against
a real logbusd: the error reports they make are byte for byte those of
`logbusctl run` for the same command (killed by SIGTERM, a Python
traceback, in a venv), a child's lines become records as logbusctl run
makes them, and a supervised process can be stopped."""

import os
import shutil
import subprocess
import sys

import pytest

import logbus
from conftest import records, wait_until

TRACEBACK = ("import sys; print('starting'); sys.stdout.flush(); "
             "raise RuntimeError('database is gone')")


@pytest.fixture
def work(tmp_path):
    """A working directory with known names in it."""
    (tmp_path / "main.py").write_text("")
    (tmp_path / "requirements.txt").write_text("")
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    return tmp_path


def report(broker, service):
    return broker.ctl("errors", service).stdout


def same_report_as_logbusctl(broker, service, work, cmd, **kw):
    """Run cmd through logbusctl run and through logbus.run; both reports,
    which must be the same text."""
    opts = ["--venv", kw["venv"]] if kw.get("venv") else []
    broker.ctl("run", "-s", service + "_ctl", "--cwd", str(work), *opts,
               "--", *cmd, check=False)
    done = logbus.run(cmd, service=service, cwd=str(work),
                      run_dir=broker.run_dir, **kw)
    assert done.report_error is None
    ours, theirs = report(broker, service), report(broker, service + "_ctl")
    assert ours == theirs
    return done, ours


def test_sigterm_report_equals_logbusctl_run(broker, service, work):
    done, text = same_report_as_logbusctl(
        broker, service, work,
        ["sh", "-c", "echo out; echo err >&2; kill -TERM $$"])
    assert done.returncode == -15
    assert text == ("Exit code: -15\nCategory: signal\nSignal: SIGTERM\n"
                    "Command: sh -c echo out; echo err >&2; kill -TERM $$\n"
                    "CWD: %s\nVenv: None\n\n--- STDERR ---\nerr\n"
                    "--- STDOUT ---\nout\n--- FILES ---\n"
                    "['.venv', 'main.py', 'requirements.txt']\n" % work)


def test_traceback_report_equals_logbusctl_run(broker, service, work):
    done, text = same_report_as_logbusctl(
        broker, service, work, [sys.executable, "-c", TRACEBACK],
        venv=str(work / ".venv"))
    assert done.returncode == 1
    assert text.startswith("Exit code: 1\nCategory: exit\nCommand: %s -c "
                           % sys.executable)
    assert "Venv: %s/.venv\n" % work in text
    assert "RuntimeError: database is gone\n--- STDOUT ---\nstarting\n" in text
    died = records(broker, service)[-1]
    assert died.level == 40
    assert died.message.startswith("Process exited with code 1\n")
    assert died.message.endswith("RuntimeError: database is gone")


def test_run_timeout_reports_category_timeout(broker, service, work):
    with pytest.raises(subprocess.TimeoutExpired):
        logbus.run(["sleep", "60"], service=service, cwd=str(work),
                   run_dir=broker.run_dir, timeout=0.5)
    text = report(broker, service)
    assert text.startswith("Exit code: -9\nCategory: timeout\n")
    died = records(broker, service)[-1]
    assert died.fields["error_category"] == "timeout"


def test_report_exit_of_a_completed_process(broker, service, work):
    cmd = ["sh", "-c", "echo partial; echo 'fatal: no config' >&2; exit 3"]
    broker.ctl("run", "-s", service + "_ctl", "--cwd", str(work), "--", *cmd,
               check=False)
    cp = subprocess.run(cmd, cwd=str(work), capture_output=True)
    logbus.report_exit(cp, service=service, cwd=str(work),
                       run_dir=broker.run_dir)
    assert report(broker, service) == report(broker, service + "_ctl")
    with pytest.raises(ValueError, match="has not ended"):
        logbus.report_exit(subprocess.Popen(["true"]), service=service)


def test_lines_become_records_as_logbusctl_run_makes_them(broker, service,
                                                          work):
    long = "x" * (70 * 1024)
    script = ("import sys; print('hello'); sys.stdout.flush(); "
              "sys.stderr.write('warn line\\n'); sys.stderr.flush(); "
              "sys.stderr.write('INFO:     Started server\\n'); "
              "sys.stderr.write('x ERROR: not a level\\n'); "
              "sys.stderr.flush(); "
              "sys.stdout.buffer.write(b'bad \\xff byte\\n'); "
              "print('%s')" % long)
    done = logbus.run([sys.executable, "-c", script], service=service,
                      cwd=str(work), run_dir=broker.run_dir,
                      logger="pactown.sandbox")
    assert done.returncode == 0
    got = records(broker, service)
    start = got[0]
    assert start.message.startswith("Process started with PID: ")
    assert start.fields["pid"] == int(start.message.split()[-1])
    assert start.fields["cmd"].startswith(sys.executable + " -c import sys")
    lines = [(r.stream, r.level, r.message) for r in got[1:-1]
             if r.fields.get("part") is None]
    assert ("stdout", 20, "hello") in lines
    assert ("stderr", 30, "warn line") in lines
    # a line's own level, as logbusctl run reads it (logbus_line_level)
    assert ("stderr", 20, "INFO:     Started server") in lines
    assert ("stderr", 30, "x ERROR: not a level") in lines
    assert ("stdout", 20, "bad \ufffd byte") in lines
    parts = [r for r in got if "part" in r.fields]
    assert [(r.fields["part"], r.fields["more"]) for r in parts] == [
        (1, True), (2, False)]
    assert "".join(r.message for r in parts) == long
    assert {r.logger for r in got} == {"pactown.sandbox"}
    assert got[-1].level == 20  # exit code 0 is INFO
    assert got[-1].message == ("Process exited with code 0\nwarn line\n"
                               "INFO:     Started server\n"
                               "x ERROR: not a level")


def test_process_terminate_and_wait_for_readiness(broker, service, work):
    script = ("import time; print('Uvicorn running on http://0.0.0.0:8001', "
              "flush=True); time.sleep(120)")
    with logbus.Process([sys.executable, "-c", script], service=service,
                        cwd=str(work), run_dir=broker.run_dir) as p:
        rec = logbus.wait_for(service, "Uvicorn running on", timeout=30,
                              since=p.started, run_dir=broker.run_dir)
        assert rec.stream == "stdout"
        assert p.poll() is None
        with pytest.raises(subprocess.TimeoutExpired):
            p.wait(0.1)
        p.terminate()
        assert p.wait(30) == -15
    assert p.report_error is None
    assert report(broker, service).startswith(
        "Exit code: -15\nCategory: signal\nSignal: SIGTERM\n")
    p.terminate()  # reaped: nothing is sent


def test_a_command_that_does_not_exist(broker, service):
    with pytest.raises(FileNotFoundError):
        logbus.run(["no-such-command-anywhere"], service=service,
                   run_dir=broker.run_dir)


def test_no_broker_the_command_runs_all_the_same(tmp_path, work):
    done = logbus.run(["sh", "-c", "exit 4"], service="py_away",
                      run_dir=str(tmp_path), cwd=str(work),
                      report_timeout=0.3)
    assert done.returncode == 4
    assert isinstance(done.report_error, logbus.LogbusError)


def test_output_of_exactly_one_piece_without_a_newline(broker, service):
    done = logbus.run([sys.executable, "-c",
                       "import sys; sys.stdout.write('y' * 65536)"],
                      service=service, run_dir=broker.run_dir)
    assert done.returncode == 0
    got = [r for r in records(broker, service) if r.stream == "stdout"]
    assert "".join(r.message for r in got) == "y" * 65536


# Real programs through logbus.run, each checked by its report file's
# Category line (tests/test_category.sh does the same through logbusctl run).
SEGV_C = """#include <stdio.h>
int main(void)
{
	volatile int *p = NULL;
	fprintf(stderr, "reading the configuration\\n");
	return *p;
}
"""


def report_file_category(broker, service):
    path = os.path.join(broker.log_dir, service + "_error.log")
    with open(path) as f:
        return f.read().split("\n")[1]


def test_run_a_script_importing_a_missing_module_is_dependency(
        broker, service, work):
    (work / "app.py").write_text("import logbus_test_not_installed\n")
    done = logbus.run([sys.executable, "app.py"], service=service,
                      cwd=str(work), run_dir=broker.run_dir)
    assert done.returncode == 1
    assert report_file_category(broker, service) == "Category: dependency"


def test_run_a_server_on_a_port_in_use_is_port(broker, service, work):
    (work / "server.py").write_text(
        "import socket, sys\n"
        "s = socket.socket()\n"
        "s.bind(('127.0.0.1', int(sys.argv[1])))\n"
        "s.listen()\n")
    import socket
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        done = logbus.run([sys.executable, "server.py",
                           str(held.getsockname()[1])], service=service,
                          cwd=str(work), run_dir=broker.run_dir)
    assert done.returncode == 1
    assert report_file_category(broker, service) == "Category: port"


def test_run_a_process_killed_by_sigkill_is_signal(broker, service, work):
    done = logbus.run([sys.executable, "-c",
                       "import os, signal; print('working', flush=True); "
                       "os.kill(os.getpid(), signal.SIGKILL)"],
                      service=service, cwd=str(work), run_dir=broker.run_dir)
    assert done.returncode == -9
    assert report_file_category(broker, service) == "Category: signal"


def test_run_a_segfaulting_c_program_is_crash(broker, service, work):
    cc = shutil.which("cc")
    if cc is None:
        pytest.skip("no cc to build the segfaulting program")
    (work / "segv.c").write_text(SEGV_C)
    subprocess.run([cc, "-O0", "-o", str(work / "segv"),
                    str(work / "segv.c")], check=True)
    # without the sanitizer runtime ctest preloads into Python: it would
    # catch the fault and exit 1
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    done = logbus.run(["./segv"], service=service, cwd=str(work), env=env,
                      run_dir=broker.run_dir)
    assert done.returncode == -11
    assert report_file_category(broker, service) == "Category: crash"
