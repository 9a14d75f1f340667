"""Signal names, and what a signal sent from the host does to a process given its /proc status masks."""

from __future__ import annotations

import signal

import pytest

from ctrlens.act import signals as sg
from ctrlens.errors import UsageError


def bit(*sigs: int) -> int:
    mask = 0
    for s in sigs:
        mask |= 1 << (s - 1)
    return mask


@pytest.mark.parametrize("text", ["KILL", "SIGKILL", "kill", "sigkill", "9", " KILL "])
def test_signal_names_numbers_and_case_are_accepted(text):
    assert sg.parse_signal(text) == signal.SIGKILL


def test_realtime_signals_by_offset():
    assert sg.parse_signal("RTMIN+2") == signal.SIGRTMIN + 2
    assert sg.parse_signal("SIGRTMAX-1") == signal.SIGRTMAX - 1
    assert sg.signal_name(signal.SIGRTMIN + 3) == "SIGRTMIN+3"


@pytest.mark.parametrize("text", ["SIGNOPE", "", "99", "-9", "KILLL", "RTMIN+99", "TERM,KILL"])
def test_unknown_signals_are_usage_errors(text):
    with pytest.raises(UsageError):
        sg.parse_signal(text)


def test_signal_zero_is_a_probe():
    assert sg.parse_signal("0") == 0
    assert sg.effect_of(0, 0, 0, namespace_init=True) == sg.PROBE


def test_kill_and_stop_are_forced_even_on_a_namespace_init():
    everything = (1 << 64) - 1
    assert sg.effect_of(signal.SIGKILL, everything, everything, namespace_init=True) == sg.TERMINATES
    assert sg.effect_of(signal.SIGSTOP, everything, everything, namespace_init=True) == sg.STOPS


def test_a_namespace_init_without_handler_drops_term():
    assert sg.effect_of(signal.SIGTERM, 0, 0, namespace_init=True) == sg.DROPPED
    # The same process outside a PID namespace of its own dies of it.
    assert sg.effect_of(signal.SIGTERM, 0, 0, namespace_init=False) == sg.TERMINATES


def test_handler_blocked_and_ignored():
    assert sg.effect_of(signal.SIGTERM, bit(signal.SIGTERM), 0, namespace_init=True) == sg.CAUGHT
    # busybox init waits in sigtimedwait: blocked signals are queued even for a namespace init.
    assert (
        sg.effect_of(signal.SIGTERM, 0, 0, namespace_init=True, blocked_mask=bit(signal.SIGTERM))
        == sg.BLOCKED
    )
    assert sg.effect_of(signal.SIGHUP, 0, bit(signal.SIGHUP), namespace_init=False) == sg.IGNORED


def test_default_actions_of_ordinary_processes():
    assert sg.effect_of(signal.SIGCHLD, 0, 0, namespace_init=False) == sg.IGNORED
    assert sg.effect_of(signal.SIGWINCH, 0, 0, namespace_init=False) == sg.IGNORED
    assert sg.effect_of(signal.SIGTSTP, 0, 0, namespace_init=False) == sg.STOPS
    assert sg.effect_of(signal.SIGCONT, 0, 0, namespace_init=True) == sg.CONTINUES
    assert sg.effect_of(signal.SIGUSR1, 0, 0, namespace_init=False) == sg.TERMINATES


def test_exit_code_after_a_signal_is_what_docker_records():
    assert sg.exit_code_after(signal.SIGKILL) == 137
    assert sg.exit_code_after(signal.SIGTERM) == 143


def test_every_effect_has_words():
    for effect in (
        sg.TERMINATES,
        sg.STOPS,
        sg.CONTINUES,
        sg.CAUGHT,
        sg.BLOCKED,
        sg.IGNORED,
        sg.DROPPED,
        sg.PROBE,
    ):
        assert sg.describe_effect(effect, signal.SIGTERM)
