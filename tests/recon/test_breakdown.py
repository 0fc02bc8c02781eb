"""The benchmark's breakdown of the engine's time names every phase it claims to measure."""
import pytest

from benchmarks import recon, recon_breakdown


def test_every_statement_of_a_batch_with_duplicates_falls_in_a_named_phase(tmp_path):
    from chalicelib.recon.duckdb_session import Session
    execute = Session.sql
    batch = recon.generate(tmp_path / "batch", 3_000)   # 0.1 % duplicated response_ids

    phases = recon_breakdown.engine_child(batch, tmp_path / "work", "256MB")

    assert Session.sql is execute   # the timing wrapper is removed again

    assert set(phases) >= {"engine total", "read (each side parsed once into a table)",
                           "repeated ids (grouping of the ids' hashes)",
                           "join (single ids; repeated ids grouped)", "duplicates", "write results",
                           "counts, sums, discrepancies", "audit", "row errors (DuckDB's rejects)",
                           recon_breakdown.MANIFEST_CHECK}
    assert "stage (copy into Parquet buckets)" not in phases   # a small pair is not staged
    assert all(wall >= 0 and cpu >= 0 for wall, cpu in phases.values())
    assert (tmp_path / "work" / "out" / "pay_recon.csv").is_file()


@pytest.mark.parametrize("statement, phase", [
    ("CREATE TEMP TABLE pay_r AS SELECT 1", "join (single ids; repeated ids grouped)"),
    ("CREATE TEMP TABLE pay_r_m AS SELECT 1", "read (each side parsed once into a table)"),
    ("CREATE TEMP TABLE withdraw_r_d AS SELECT 1", "repeated ids (grouping of the ids' hashes)"),
    ("COPY (SELECT k, request_id FROM x) TO 'y'", "stage (copy into Parquet buckets)"),
    ("CREATE TEMP TABLE pay_r_x AS SELECT 1", "join (single ids; repeated ids grouped)"),
    ("CREATE TEMP TABLE pay_r_ms AS SELECT 1", "counts, sums, discrepancies"),
    ("COPY (SELECT p_request_id, response_id FROM x) TO 'y'", "write results"),
    ("COPY ( SELECT p_request_id, response_id FROM x) TO 'y'", "write results"),
    ("COPY (SELECT 'request_id' AS c0, 'response_id' AS c1 UNION ALL SELECT 1) TO 'y'", "write results"),
    ("CREATE TEMP TABLE pay_head AS SELECT COLUMNS(*)::VARCHAR FROM (SELECT 1 FROM pay_disc)",
     "write results"),
    ("CREATE TEMP TABLE withdraw_dups AS SELECT 1", "duplicates"),
    ("DROP TABLE pay_r", "other"),
])
def test_statements_are_classified_by_what_they_do(statement, phase):
    assert recon_breakdown._phase(statement) == phase
