"""The human-readable result table, made from the result document (`LoadResult.to_dict()`)."""
from typing import Callable, List, Tuple

ALWAYS_SHOWN = ("SUCCESS", "UNKNOWN")
COLUMNS = ("pay", "withdraw", "overdraw")


def _latency_row(name: str, stats: dict) -> str:
    latency = stats["latency_ms"]
    cells = [f"{latency[key]:>8.1f}" if key in latency else f"{'-':>8}"
             for key in ("p50", "p95", "p99", "max")]
    return (f"{name:<10}{stats['calls']:>7}{stats['answered']:>10}"
            f"{stats['throughput_per_s']:>10.1f}" + "".join(cells))


def _outcome_rows(columns: List[dict]) -> List[Tuple[str, List[int]]]:
    getters: List[Tuple[str, Callable[[dict], int]]] = [("SUCCESS", lambda c: c["SUCCESS"])]
    messages = sorted({message for c in columns for message in c["FAIL"]})
    getters += [(f"FAIL {message or '(no message)'}", lambda c, m=message: c["FAIL"].get(m, 0))
                for message in messages]
    getters += [("UNKNOWN", lambda c: c["UNKNOWN"]), ("INIT", lambda c: c["INIT"])]
    statuses = sorted({status for c in columns for status in c["http_errors"]})
    getters += [(f"HTTP {status}", lambda c, s=status: c["http_errors"].get(s, 0))
                for status in statuses]
    getters.append(("unreadable answer", lambda c: c["unreadable_answers"]))
    for name in columns[0]["connection_errors"]:
        getters.append((f"no answer: {name.replace('_', ' ')}",
                        lambda c, n=name: c["connection_errors"][n]))
    rows = []
    for label, get in getters:
        counts = [get(c) for c in columns]
        if any(counts) or label in ALWAYS_SHOWN:
            rows.append((label, counts))
    return rows


def render_table(document: dict) -> str:
    plan, operations = document["plan"], document["operations"]
    lines = [
        f"merchant load on {document['api_url']}: {plan['pays']} pays + {plan['withdraws']} "
        f"withdraws ({plan['overdraws']} overdraws) over {plan['salers']} salers, "
        f"{document['threads']} threads, seed {document['seed']}, "
        f"fault rate {document['fault_rate']:g}",
        f"wall time {document['wall_seconds']:.2f} s",
        "",
        f"{'operation':<10}{'calls':>7}{'answered':>10}{'calls/s':>10}"
        f"{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}",
    ]
    lines += [_latency_row(name, operations[name]) for name in ("pay", "withdraw", "overall")]
    lines += [f"latency: {document['percentile_method']} percentiles over the calls answered "
              "over HTTP (send to last byte)", ""]
    columns = [operations["pay"]["outcomes"], operations["withdraw"]["outcomes"],
               document["overdraw_outcomes"]]
    lines.append("".join(f"{name:>10}" for name in COLUMNS) + "  outcome")
    lines += ["".join(f"{n:>10}" for n in counts) + f"  {label}"
              for label, counts in _outcome_rows(columns)]
    lines.append("(overdraws are withdraws too: the withdraw column includes them)")
    if document["faults"] is not None:
        counters = ", ".join(f"{k} {v}" for k, v in document["faults"].items())
        lines += ["", f"payment link during the run: {counters}"]
    unknown = document["unknown_request_ids"]
    lines += ["", f"UNKNOWN request ids: {len(unknown)}"
              + (f" ({', '.join(unknown[:5])}{', ...' if len(unknown) > 5 else ''})"
                 if unknown else "")]
    return "\n".join(lines)
