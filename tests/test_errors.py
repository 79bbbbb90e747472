import pytest

from kfashion.core.errors import INTERRUPTED, UserError, exit_on_user_error


def fails_with(error):
    @exit_on_user_error
    def main():
        raise error

    return main


def test_user_error_is_one_line_and_exit_code_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        fails_with(UserError("--epochs 0: must be at least 1"))()
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "kfashion: error: --epochs 0: must be at least 1\n"


def test_an_interrupt_a_library_turned_into_another_error_is_still_an_interrupt(capsys):
    @exit_on_user_error
    def main():
        try:
            raise KeyboardInterrupt
        except:  # noqa: E722  (as KerasTuner does around copying callbacks)
            raise ValueError("not deep-copyable") from None

    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == INTERRUPTED
    assert "interrupted; run the same command again" in capsys.readouterr().err


def test_other_errors_are_not_hidden():
    with pytest.raises(ZeroDivisionError):
        fails_with(ZeroDivisionError("a bug"))()


def exit_code_leaving_no_ctrl_c(main) -> int:
    """The exit code of a wrapped `main` that sets the Ctrl-C flag; the command clears it as it
    ends, so later commands in this process start without it."""
    from kfashion.core import errors

    with pytest.raises(SystemExit) as exit_info:
        main()
    assert not errors._ctrl_c.is_set()
    return exit_info.value.code


def test_a_ctrl_c_whose_interrupt_got_lost_still_stops_training_and_the_command(capsys):
    import keras
    import numpy as np

    from kfashion.core import errors
    from kfashion.engine import training

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")

    @exit_on_user_error
    def main():
        errors._ctrl_c.set()  # as the handler does; say its KeyboardInterrupt was swallowed
        model.fit(
            np.zeros((4, 2)),
            np.zeros(4),
            epochs=3,
            verbose=0,
            callbacks=[training.stop_on_ctrl_c()],
        )
        raise AssertionError("training went on")

    assert exit_code_leaving_no_ctrl_c(main) == INTERRUPTED
    assert "interrupted; run the same command again" in capsys.readouterr().err


def test_a_command_that_ends_after_a_lost_ctrl_c_says_it_was_interrupted(capsys):
    from kfashion.core import errors

    @exit_on_user_error
    def main():
        errors._ctrl_c.set()  # pressed during the last step; its KeyboardInterrupt went astray

    assert exit_code_leaving_no_ctrl_c(main) == INTERRUPTED


def test_a_ctrl_c_dropped_inside_a_destructor_prints_one_line_not_a_traceback():
    # JAX's garbage-collector callback is where CI saw it: Python prints "Exception ignored
    # in ..." with a traceback for an exception raised there, then drops it.
    import subprocess
    import sys

    program = """
import signal
from kfashion.core.errors import exit_on_user_error

class Finalized:
    def __del__(self):
        signal.raise_signal(signal.SIGINT)  # the handler runs here, inside __del__

@exit_on_user_error
def main():
    Finalized()

main()
"""
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True)
    assert done.returncode == INTERRUPTED, done.stderr
    assert done.stderr.splitlines() == [
        "kfashion: interrupted; run the same command again to continue"
    ]
