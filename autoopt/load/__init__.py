"""Load management: sample recording, level handlers and throttling.

:class:`LoadManager` records :class:`~autoopt.models.LoadMetrics`, classifies
them into :class:`~autoopt.enums.LoadLevel` bands, calls level handlers and
turns the latest utilisation into a throttle with the smoothstep control law
:func:`throttle_percentage`.
"""

from autoopt.load._manager import LoadManager, throttle_percentage

__all__ = ["LoadManager", "throttle_percentage"]
