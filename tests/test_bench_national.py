"""The national benchmark's repeat rule: the median of its runs, and a failure is not hidden."""

from bench.national_bench import _median, _repeated


def test_median_of_runs_and_highest_peak():
    wall, peak, error, note = _median([(3.0, 10.0, ""), (1.0, 30.0, ""), (2.0, 20.0, "")])
    assert (wall, peak, error) == (2.0, 30.0, "")
    assert note == "median of 3: 1.00, 2.00, 3.00 s"
    assert _median([(1.5, 9.0, "")]) == (1.5, 9.0, "", "")


def test_a_failed_run_is_the_result_and_stops_the_repeats():
    calls = []

    def step():
        calls.append(1)
        return (None, None, "exit 2: bad config") if len(calls) == 2 else (1.0, 5.0, "")

    assert _repeated(step, times=3) == (None, None, "exit 2: bad config", "")
    assert len(calls) == 2
