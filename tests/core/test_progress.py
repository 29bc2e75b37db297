import io

from pconv.core.progress import format_duration, progress_bar, restart_rate


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


def test_without_a_terminal_a_bar_writes_a_line_per_tenth_not_a_redraw_per_item(capsys):
    with progress_bar(total=95, desc="extract masks", unit="pair") as bar:
        for _ in range(95):
            bar.update(1)
    err = capsys.readouterr().err
    assert "\r" not in err
    counts = [line.split(": ")[1].split(" ")[0] for line in err.splitlines()]
    assert counts == ["0/95", *(f"{n}/95" for n in range(10, 100, 10)), "95/95"]  # the close adds none
    assert err.splitlines()[-1].startswith("extract masks: 95/95 pair (100 %), ")
    with progress_bar(total=95, desc="quiet", enabled=False) as bar:
        bar.update(95)
    assert capsys.readouterr().err == ""


def test_durations_read_as_a_person_says_them():
    assert [format_duration(s) for s in (0.4, 41, 227, 7500)] == ["0 s", "41 s", "3 min 47 s", "2 h 05 min"]
