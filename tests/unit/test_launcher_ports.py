"""Rasa replicas take consecutive ports: the launcher must hand out a run that is free and avoids the app's port."""
import socket

from bot.launcher import free_port, run_is_free


def test_a_run_with_a_taken_port_is_not_free():
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    taken = held.getsockname()[1]
    try:
        assert not run_is_free(taken - 1, 2)
        assert not run_is_free(taken, 1)
    finally:
        held.close()
    assert run_is_free(taken, 1)


def test_a_run_containing_an_avoided_port_is_not_free():
    base = free_port(2)
    assert run_is_free(base, 2)
    assert not run_is_free(base, 2, avoid=(base + 1,))


def test_free_port_run_is_bindable_and_avoids_given_ports():
    app_port = free_port()
    base = free_port(3, avoid=(app_port,))
    assert app_port not in range(base, base + 3)
    assert run_is_free(base, 3)


def test_a_second_run_says_the_assistant_is_already_running_and_exits(monkeypatch, capsys):
    import socket

    from bot.__main__ import run_stack
    from bot.settings import get_settings

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        monkeypatch.setenv("PORT", str(port))
        get_settings.cache_clear()
        try:
            assert run_stack(None) == 1
        finally:
            get_settings.cache_clear()
    message = capsys.readouterr().err
    assert f"端口 {port}" in message and "已经在" in message
