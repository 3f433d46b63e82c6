"""The fixed clock of evaluations (CLOCK_START): the county's time starts there and runs on."""
import datetime as dt
import subprocess
import sys

from bot import clock
from bot.settings import ROOT


def test_without_clock_start_the_clock_is_real_time():
    assert abs((clock.utcnow() - dt.datetime.now(dt.timezone.utc)).total_seconds()) < 1
    assert clock.now().utcoffset() == dt.timedelta(hours=8)


def test_clock_start_fixes_today_in_county_time_and_runs_on():
    code = ("import time; from bot import clock; a = clock.now(); time.sleep(0.2); b = clock.now(); "
            "print(a.isoformat(), (b - a).total_seconds())")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True,
                         env={"CLOCK_START": "2026-12-08T09:30:00", "PATH": "/usr/bin"}).stdout.split()
    started = dt.datetime.fromisoformat(out[0])
    assert started.date() == dt.date(2026, 12, 8) and (started.hour, started.minute) == (9, 30)
    assert started.utcoffset() == dt.timedelta(hours=8)
    assert 0.15 < float(out[1]) < 5  # it runs on, it is not frozen
