"""The clocks: virtual time moves only when told; wall time follows real time."""
import unittest

from cluster.clock import VirtualClock, WallClock
from cluster.errors import GatewayTimeout
from config import simulation_config
from replication import ReplicationManager


class FakeTime:
    """A controllable real-time source (seconds)."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class ClockTest(unittest.TestCase):
    """Both clocks only move forward; freezing stops the wall clock without losing time order."""

    def test_virtual_clock_moves_only_forward_when_told(self):
        """advance_to moves the virtual clock forward and never back."""
        clock = VirtualClock()
        clock.advance_to(50)
        clock.advance_to(20)
        self.assertEqual((clock.now(), clock.elapsed()), (50, 50))

    def test_wall_clock_follows_real_time_and_jumps_over_simulated_waits(self):
        """The wall clock reads real ms, plus waits the simulation jumped over."""
        source = FakeTime()
        clock = WallClock(source)
        source.now += 0.5
        self.assertEqual(clock.elapsed(), 500)
        clock.advance_to(clock.now() + 100)  # a simulated timeout costs no real time
        self.assertEqual(clock.elapsed(), 600)

    def test_paused_interval_does_not_count(self):
        """Frozen for 5 real seconds, the wall clock resumes where it stood, then follows real time."""
        source = FakeTime()
        clock = WallClock(source)
        clock.freeze()
        frozen = clock.now()
        source.now += 5
        self.assertEqual(clock.now(), frozen)
        clock.advance_to(frozen + 30)  # a step while paused
        clock.unfreeze()
        self.assertEqual(clock.now(), frozen + 30)
        source.now += 0.2
        self.assertEqual(clock.now(), frozen + 230)


class ResumeTest(unittest.TestCase):
    """Resuming after a long pause does not fire the timeouts of the held write."""

    def test_no_spurious_timeouts_after_resume_on_the_wall_clock(self):
        """A write held through a 5 s pause gets its acks on resume: no timeouts, no hints."""
        source = FakeTime()
        cluster = ReplicationManager(simulation_config(clock="wall", client_timeout_ms=1),
                                     clock=WallClock(source))
        cluster.steps.pause()
        with self.assertRaises(GatewayTimeout):  # the client gives up at once; the write goes on
            cluster.write("color", "blue")
        source.now += 5
        cluster.steps.resume()
        timeouts = [e for e in cluster.events.page(0, 10 ** 6) if e.type == "timeout"]
        self.assertEqual(timeouts, [])
        self.assertEqual(sum(len(n.hints) for n in cluster.nodes), 0)
        self.assertEqual(cluster.read("color", r=3).record.value, "blue")

if __name__ == "__main__":
    unittest.main()
