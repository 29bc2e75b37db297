import io

from pconv.core.progress import progress_bar, restart_rate


def test_restart_rate_keeps_the_position_and_forgets_the_time():
    bar = progress_bar(total=10, desc="t", enabled=True)
    bar.fp = io.StringIO()
    bar.update(3)
    bar.start_t -= 100  # a first step that took 100 s
    restart_rate(bar)
    assert bar.n == 3 and bar.initial == 3 and bar.total == 10
    bar.update(1)
    assert bar.format_dict["elapsed"] < 50 and bar.n == 4
    bar.close()
    restart_rate(progress_bar(total=5, desc="q", enabled=False))  # --quiet: nothing to restart
