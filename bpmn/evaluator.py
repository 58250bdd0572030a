"""Evaluator processes: where uploaded scripts and expressions run, bounded in time and memory.

Why a process. The sandbox's tracer (`bpmn.sandbox`, layer 4) runs between bytecodes, and so
does every other check Python offers: a signal handler, an asynchronous exception, a memory
check. One C call (``sum`` of lists, ``str`` of a list of lists, bytes times a number,
``%``-formatting, sorting shared data) never returns to them; inside the web process such a
call ran for tens of seconds and took gigabytes. Checking every allocation path of the
interpreter in advance is not possible from Python. The kernel can do both: a process gets a memory limit
(``RLIMIT_AS``: an allocation past it fails with `MemoryError`, in C as well) and an alarm
(``ITIMER_REAL`` with ``SIGALRM`` left at its default action, which ends the process in the
middle of a C call), and its parent kills it (``SIGKILL`` through a pidfd) if it has not
answered shortly after. The web process waits on a socket meanwhile, without the GIL; whatever
the code allocated goes away with the process.

How processes are made. Forking a web process is unsafe (it runs several threads: granian's,
the scheduler's) and starting a fresh interpreter per worker costs a few hundred milliseconds.
So each Rutin process starts one *zygote* with ``subprocess`` (fork and exec: safe from
threads): a fresh single-threaded interpreter that imports the sandbox, freezes its heap and
then only forks workers on request; a worker forked from it is ready at once.
The parent hands the zygote one end of a new socket pair (``SCM_RIGHTS``) and gets the
worker's pid back, which it opens as a pidfd at once (the zygote reaps only when asked for
the next worker, so the pid cannot have been reused yet). Workers form a small pool: each
serves one call at a time, idle ones are reused (a call costs one round trip on a Unix socket),
more are forked when several threads evaluate at once (up to `MAX_WORKERS`, then callers wait),
and one that was killed, ran out of memory or grew is replaced by a fresh fork.
`multiprocessing`'s forkserver would do the forking, but it pickles objects between the
processes and re-imports the parent's ``__main__`` in each child; the few lines here do neither.

What crosses. Requests and replies are length-prefixed JSON frames (`bpmn.wire` tags dates,
decimals, tuples and the like); the parent never unpickles anything a worker sent, so a sandbox
escape in a worker cannot run code here. Exceptions come back as the name of a class from a
fixed list and their arguments as data. Only the case variables the code names are sent, and
for a script only the variables it assigned or changed come back, at most `MAX_REPLY_BYTES`.

A worker stops the code itself first where it can: the tracer's `ScriptTimeout` at the budget
leaves the worker usable. Its alarm fires `KILL_MARGIN_S` later (a C call), and the parent kills
it `GRACE_S` after the budget if neither happened: a runaway C call is stopped a third of a
second or so after its budget.

What else a worker is held to. Once its call has run for a moment (`Evaluator.long_wait_s`) it
runs at a lower CPU priority (`WORKER_NICE`), so code running to its budget slows the web
processes' other requests less, and is replaced after the call; it may write no file
(``RLIMIT_FSIZE`` 0) and dumps no core; and the zygote is started with an environment of its
own, without the database URL, session key and SMTP password of the web process's, which code
that escaped the sandbox would otherwise find there.

Imports inside functions: `bpmn.sandbox` imports this module to hand it what it evaluates, so
this module imports the sandbox inside the functions that run in the evaluator process (which
imports it once, when it starts) rather than at the top, where the two would import each other.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import wire

KILL_MARGIN_S = 0.3
GRACE_S = 0.7
MAX_WORKERS = 4
MAX_REPLY_BYTES = 4 * 1024 * 1024
MAX_MESSAGE = 1000
# A worker whose call has run `Evaluator.long_wait_s` yields the CPU to the web processes: code
# running to its budget slows other requests less (its budget is wall-clock time, so it is
# stopped as soon either way); short calls keep the web process's priority.
WORKER_NICE = 10
# A worker whose peak resident memory grew this much over its life is replaced after its call.
WORKER_GROWTH_BYTES = 64 * 1024 * 1024
_FRAME = struct.Struct("!I")
_PID = struct.Struct("!q")


class EvaluatorUnavailable(RuntimeError):
    """The evaluator process could not be started (an installation or operating-system fault)."""


# --- frames ------------------------------------------------------------------------------------


def _send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(_FRAME.pack(len(payload)) + payload)


def _recv_exact(sock: socket.socket, n: int, deadline: float | None) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        if deadline is not None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            sock.settimeout(remaining)
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def _recv(sock: socket.socket, deadline: float | None, limit: int | None = None) -> bytes:
    (size,) = _FRAME.unpack(_recv_exact(sock, _FRAME.size, deadline))
    if limit is not None and size > limit:
        raise OverflowError(size)
    return _recv_exact(sock, size, deadline)


# --- the parent's side -------------------------------------------------------------------------


class _Worker:
    """One forked worker as its parent sees it: the socket to it and a handle to kill it."""

    def __init__(self, sock: socket.socket, pid: int, pidfd: int | None):
        self.sock = sock
        self.pid = pid
        self.pidfd = pidfd
        self.demoted = False

    def kill(self) -> None:
        try:
            if self.pidfd is not None:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            else:  # pragma: no cover - kernels before 5.3: the pid is still unreaped, see module doc
                os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.close()

    def close(self) -> None:
        self.sock.close()
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


class Evaluator:
    """A pool of evaluator processes serving this process's threads (see the module doc)."""

    def __init__(self, max_workers: int = MAX_WORKERS):
        self.max_workers = max_workers
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._live = 0
        self._zygote: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._zygote_lock = threading.Lock()
        self.stats = {"forked": 0, "killed": 0, "calls": 0}
        # Called, in the waiting thread, when a call has waited `long_wait_s` for its worker.
        self.on_long_wait: Callable[[], None] | None = None
        self.long_wait_s = 0.05

    # -- calls --------------------------------------------------------------------------------

    def evaluate(self, source: str, context: dict[str, Any], *, timeout: float, memory: int) -> Any:
        """Evaluate an expression in a worker; its result, or the exception it raised there."""
        return self._call("eval", source, context, timeout, memory)

    def execute(self, source: str, context: dict[str, Any], *, timeout: float, memory: int) -> dict[str, Any]:
        """Run a script in a worker; the variables it assigned or changed."""
        changed = self._call("exec", source, context, timeout, memory)
        assert isinstance(changed, dict)
        return changed

    def _call(self, op: str, source: str, context: dict[str, Any], timeout: float, memory: int) -> Any:
        from .sandbox import ResourceLimit, SandboxError, ScriptTimeout

        try:
            ctx = wire.dumps(context)
        except wire.WireError as exc:
            names = [k for k in context if not wire.sendable(context[k])]
            raise SandboxError(f"variabeln {', '.join(names) or '?'} kan inte användas av skript: {exc}") from None
        request = b'{"op":"%s","t":%r,"m":%d,"src":%s,"ctx":%s}' % (
            op.encode(), float(timeout), int(memory), json.dumps(source).encode(), ctx)
        worker = self._hand_over(request, timeout)
        started = time.monotonic()
        healthy = False
        try:
            try:
                reply = self._wait(worker, started + timeout + GRACE_S)
            except TimeoutError:
                raise ScriptTimeout(_overran(op, timeout)) from None
            except (EOFError, ConnectionError, OSError):
                if time.monotonic() - started >= timeout:
                    raise ScriptTimeout(_overran(op, timeout)) from None
                raise ResourceLimit(f"{_what(op)} avbröts: det använde mer minne än tillåtet eller kraschade "
                                    "tolken") from None
            except OverflowError:
                raise ResourceLimit(f"resultatet är större än {MAX_REPLY_BYTES // (1024 * 1024)} MB") from None
            try:
                answer = wire.from_json(reply)
                if not isinstance(answer, dict) or not ("ok" in answer or "err" in answer):
                    raise wire.WireError("inget svar")
                healthy = answer.get("retire") is not True and not worker.demoted
                if "err" in answer:
                    raise _exception(answer)
                return wire.decode(answer["ok"])
            except wire.WireError:
                healthy = False
                raise SandboxError("ogiltigt svar från utvärderaren") from None
        finally:
            self._release(worker, healthy)

    def _hand_over(self, request: bytes, timeout: float) -> _Worker:
        """A worker that has received `request`. An idle worker that died meanwhile (killed from
        outside) is replaced once, so the code is not blamed for it."""
        for attempt in (1, 2):
            worker = self._acquire(timeout + GRACE_S)
            try:
                worker.sock.settimeout(timeout + GRACE_S)
                _send(worker.sock, request)
                return worker
            except OSError:
                self._release(worker, False)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _wait(self, worker: _Worker, deadline: float) -> bytes:
        ready, _, _ = select.select([worker.sock], [], [], max(0.0, min(self.long_wait_s,
                                                                       deadline - time.monotonic())))
        if not ready:
            # A long evaluation yields the CPU to the web processes from now on; the worker keeps
            # that lower priority (it cannot raise its own again), so it is replaced afterwards.
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, worker.pid, WORKER_NICE)
            worker.demoted = True
            if self.on_long_wait is not None:
                self.on_long_wait()
        return _recv(worker.sock, deadline, MAX_REPLY_BYTES)

    # -- the pool -----------------------------------------------------------------------------

    def _acquire(self, patience: float) -> _Worker:
        from .sandbox import ScriptTimeout

        deadline = time.monotonic() + patience
        with self._cond:
            while not self._idle and self._live >= self.max_workers:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._cond.wait(remaining):
                    raise ScriptTimeout("alla utvärderingsprocesser var upptagna")
            if self._idle:
                self.stats["calls"] += 1
                return self._idle.pop()
            self._live += 1
        try:
            worker = self._fork()
        except BaseException:
            with self._cond:
                self._live -= 1
                self._cond.notify()
            raise
        self.stats["calls"] += 1
        return worker

    def _release(self, worker: _Worker, healthy: bool) -> None:
        if not healthy:
            self.stats["killed"] += 1
            worker.kill()
        with self._cond:
            if healthy:
                self._idle.append(worker)
            else:
                self._live -= 1
            self._cond.notify()

    def _fork(self) -> _Worker:
        with self._zygote_lock:
            for attempt in (1, 2):
                control = self._control if self._control is not None and self._zygote_alive() \
                    else self._start_zygote()
                mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    socket.send_fds(control, [b"F"], [theirs.fileno()])
                    (pid,) = _PID.unpack(_recv_exact(control, _PID.size, time.monotonic() + 10))
                except (OSError, EOFError, TimeoutError):
                    mine.close()
                    self._stop_zygote()
                    if attempt == 2:
                        raise EvaluatorUnavailable("utvärderingsprocessen svarar inte") from None
                    continue
                finally:
                    theirs.close()
                try:
                    pidfd: int | None = os.pidfd_open(pid)
                except (AttributeError, OSError):  # pragma: no cover - not Linux 5.3+
                    pidfd = None
                self.stats["forked"] += 1
                return _Worker(mine, pid, pidfd)
        raise AssertionError("unreachable")

    def _zygote_alive(self) -> bool:
        return self._zygote is not None and self._zygote.poll() is None and self._control is not None

    def _start_zygote(self) -> socket.socket:
        self._stop_zygote()
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        root = str(Path(__file__).resolve().parent.parent)
        # Not the web process's environment: it holds the database URL, the session key and the
        # SMTP password, which code that escaped the sandbox would find there.
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C.UTF-8",
               "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH", "")) if p)}
        try:
            self._zygote = subprocess.Popen(
                [sys.executable, "-s", "-m", "bpmn.evaluator", str(theirs.fileno())],
                pass_fds=[theirs.fileno()], env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C on `rutin serve` ends it by closing its socket instead
            )
        except OSError as exc:
            mine.close()
            raise EvaluatorUnavailable(f"utvärderingsprocessen kunde inte startas: {exc}") from None
        finally:
            theirs.close()
        self._control = mine
        return mine

    def _stop_zygote(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._zygote is not None:
            try:
                self._zygote.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._zygote.kill()
                self._zygote.wait()
            self._zygote = None

    def zygote_pid(self) -> int | None:
        """The pid of the process that forks the workers (None before the first evaluation)."""
        return self._zygote.pid if self._zygote is not None else None

    def worker_pids(self) -> list[int]:
        """The pids of the workers idle now."""
        with self._cond:
            return [w.pid for w in self._idle]

    def start(self) -> None:
        """Start the zygote and one worker now, so the first evaluation does not wait for them."""
        worker = self._acquire(10.0)
        self._release(worker, True)

    def close(self) -> None:
        """Stop every idle worker and the zygote (workers in use end when their call does)."""
        with self._cond:
            idle, self._idle = self._idle, []
            self._live -= len(idle)
        for worker in idle:
            worker.close()
        with self._zygote_lock:
            self._stop_zygote()


def _what(op: str) -> str:
    return "uttrycket" if op == "eval" else "skriptet"


def _overran(op: str, timeout: float) -> str:
    return f"{_what(op)} tog längre tid än gränsen {timeout:g} s och avbröts"


def _raisable() -> dict[str, type[BaseException]]:
    from . import sandbox

    return {c.__name__: c for c in (
        sandbox.PolicyViolation, sandbox.ScriptTimeout, sandbox.ResourceLimit, sandbox.SandboxError,
        NameError, TypeError, ValueError, KeyError, IndexError, LookupError, ZeroDivisionError, OverflowError,
        ArithmeticError, AttributeError, AssertionError, UnicodeError)}


def _exception(answer: dict[str, Any]) -> BaseException:
    """The exception a worker reported, rebuilt as one of a fixed set of classes."""
    from .sandbox import SandboxError

    known = _raisable()
    mro = answer.get("mro")
    cls = next((known[n] for n in (mro if isinstance(mro, list) else []) if isinstance(n, str) and n in known), None)
    message = str(answer.get("message", ""))[:MAX_MESSAGE]
    if cls is None:
        return SandboxError(f"{answer.get('err')}: {message}")
    try:
        return cls(*wire.decode(answer["args"]))
    except Exception:
        return cls(message)


_shared: Evaluator | None = None
_shared_lock = threading.Lock()


def shared() -> Evaluator:
    """This process's evaluator pool (a forked child gets its own, never its parent's)."""
    global _shared
    if _shared is None:
        with _shared_lock:
            if _shared is None:
                _shared = Evaluator()
    return _shared


def _forget_after_fork() -> None:
    global _shared
    _shared = None


os.register_at_fork(after_in_child=_forget_after_fork)


# --- the zygote and its workers ------------------------------------------------------------


def _vm_bytes() -> int:
    with open("/proc/self/statm", "rb") as fh:
        return int(fh.read().split()[0]) * resource.getpagesize()


def _error(exc: BaseException) -> dict[str, Any]:
    message = str(exc)
    # The message ends up in the case's incident: a key of 100,000 characters is cut short there.
    if len(message) > MAX_MESSAGE:
        args: Any = [message[:MAX_MESSAGE] + "…"]
    else:
        try:
            args = wire.encode(list(exc.args))
        except wire.WireError:
            args = [message]
    return {"err": type(exc).__name__, "mro": [c.__name__ for c in type(exc).__mro__], "args": args,
            "message": message[:MAX_MESSAGE]}


def _run(request: dict[str, Any]) -> dict[str, Any]:
    from . import sandbox

    context = wire.decode(request["ctx"])
    if request["op"] == "eval":
        return {"ok": wire.encode(sandbox.as_data("resultatet", sandbox.run_expression(request["src"], context)))}
    before = wire.decode(request["ctx"])
    sandbox.run_script(request["src"], context, timeout=request["t"])
    return {"ok": wire.encode({k: v for k, v in context.items()
                               if k not in before or type(before[k]) is not type(v) or before[k] != v})}


def _answer(request: dict[str, Any]) -> tuple[bytes, bool]:
    """The reply to one request, as bytes, and whether the worker should end after sending it."""
    from . import sandbox

    retire = False
    try:
        payload = wire.to_json(_run(request))
        if len(payload) <= MAX_REPLY_BYTES:
            return payload, False
        answer = _error(sandbox.ResourceLimit(f"resultatet är större än {MAX_REPLY_BYTES // (1024 * 1024)} MB"))
    except MemoryError:
        retire = True
        answer = _error(sandbox.ResourceLimit(f"{_what(request['op'])} använde mer minne än tillåtet"))
    except RecursionError:
        retire = True
        answer = _error(sandbox.ResourceLimit("för djup rekursion"))
    except wire.WireError as exc:
        answer = _error(sandbox.SandboxError(str(exc)))
    except Exception as exc:
        answer = _error(exc)
    return wire.to_json(answer), retire


def _serve(sock: socket.socket) -> None:
    """A worker's life: one request at a time until its parent closes the socket."""
    from . import sandbox

    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)  # the alarm ends the process, even inside C
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)  # it has nothing to say; a file there would be one it may not write (below)
    os.close(devnull)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))  # it writes no file; nor may what escapes it
    # The address-space limit is its size now plus the budget, set once per budget: a worker that
    # grows is replaced (below), so its size stays near what it was born with.
    born_vm, budget_set = _vm_bytes(), -1
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    born_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    while True:
        try:
            request = json.loads(_recv(sock, None))
        except (EOFError, OSError, ValueError, MemoryError):  # MemoryError: data larger than the budget
            os._exit(0)
        budget, memory = float(request["t"]), int(request["m"])
        if memory != budget_set:
            limit = born_vm + memory
            resource.setrlimit(resource.RLIMIT_AS, (limit if hard == resource.RLIM_INFINITY else min(limit, hard),
                                                    hard))
            budget_set = memory
        sandbox.configure(timeout_s=budget, memory_mb=max(1, memory // (1024 * 1024)))
        signal.setitimer(signal.ITIMER_REAL, budget + KILL_MARGIN_S)
        try:
            payload, retire = _answer(request)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        if retire or peak - born_peak > WORKER_GROWTH_BYTES:
            payload = payload[:-1] + b',"retire":true}'
            retire = True
        try:
            _send(sock, payload)
        except OSError:
            os._exit(0)
        if retire:
            os._exit(0)


def _zygote(fd: int) -> None:
    """Fork workers on request (a byte and a socket over `fd`), answering each with its pid."""
    from . import sandbox

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    control = socket.socket(fileno=fd)
    sandbox.run_script("x = sum(i for i in range(3))", {})  # import and warm what every worker uses
    gc.collect()
    gc.freeze()  # keep the shared heap shared: collections in a worker do not touch it
    children: set[int] = set()
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(control, 1, 1)
        except OSError:
            break
        if not message or len(fds) != 1:
            break
        for pid in list(children):
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    children.discard(pid)
            except ChildProcessError:
                children.discard(pid)
        pid = os.fork()
        if pid == 0:
            try:
                control.close()
                _serve(socket.socket(fileno=fds[0]))
            finally:
                os._exit(0)
        os.close(fds[0])
        children.add(pid)
        control.sendall(_PID.pack(pid))
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    os._exit(0)


if __name__ == "__main__":
    _zygote(int(sys.argv[1]))
