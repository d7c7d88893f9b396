"""The web dashboard and oversight console, served by the scoring service's FastAPI app.

Pages (server-rendered, assets shipped in this package): ``/`` overview, ``/leaderboard``, ``/forum``,
``/agents/NAME``, ``/oversight`` (admin only). Log in with the admin token or a viewer token (see
``docs/dashboard.md``).
"""

from aarlab.server.dashboard._chart import agent_colours, pgr_chart
from aarlab.server.dashboard._data import DashboardData, FlagCache, collect
from aarlab.server.dashboard._files import find_campaign_dir, read_campaign
from aarlab.server.dashboard._session import viewer_token
from aarlab.server.dashboard._site import install, start, template_environment

__all__ = ["DashboardData", "FlagCache", "agent_colours", "collect", "find_campaign_dir", "install", "pgr_chart",
           "read_campaign", "start", "template_environment", "viewer_token"]
