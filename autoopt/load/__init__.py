"""Load management: sample recording, level handlers and throttling.

:class:`LoadManager` records :class:`~autoopt.models.LoadMetrics`, classifies
them into :class:`~autoopt.enums.LoadLevel` bands, calls level handlers and
turns the latest utilisation into a throttle with the smoothstep control law
:func:`throttle_percentage`. :class:`DelayThrottle`, opt-in, adds a throttle
that holds queueing delay near a target (a velocity-form PI controller after
PIE, RFC 8033).
"""

from autoopt.load._manager import LoadManager, throttle_percentage
from autoopt.load._pi import DelayThrottle

__all__ = ["DelayThrottle", "LoadManager", "throttle_percentage"]
