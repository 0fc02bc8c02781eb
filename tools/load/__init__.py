"""The load driver: `paysettle load` fires merchant pays and withdraws from many threads.

    from tools.load import LoadSettings, PlanSpec, run_load
    result = run_load(LoadSettings(api_url, PlanSpec(pays=2000, withdraws=400, seed=3),
                                   fault_rate=0.01, payment_link_url=link))
    result.to_dict()["operations"], result.unknown_request_ids, print(result.table())
"""
from .plan import PlanSpec, PlannedCall, plan
from .runner import REALISTIC_FAULT_RATE, LoadResult, LoadSettings, run_load

__all__ = ["REALISTIC_FAULT_RATE", "LoadResult", "LoadSettings", "PlanSpec", "PlannedCall", "plan", "run_load"]
