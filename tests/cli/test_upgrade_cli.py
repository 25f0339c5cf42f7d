"""`rigtui upgrade` and `rigtui shop` end to end: JSON fields, prices, overrides and errors."""

from __future__ import annotations

import json

from rigtui.cli import main

MIXED = ["--gpu", "RTX 4090", "--gpu", "RTX 3090"]
TARGET = ["--target-model", "llama-3.3-70b", "--quant", "Q4_K_M", "--context", "8192"]
OPTION_FIELDS = (
    "net_cost", "usable_vram_bytes", "largest_model", "decode_tokens_per_s", "prefill_tokens_per_s",
    "cost_per_token_s", "power", "slots_needed", "lanes", "yearly_electricity", "tco_12_months", "rank",
    "reason", "warnings",
)


def _json(capsys, argv: list[str]) -> dict:
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_upgrade_json_has_documented_fields(capsys) -> None:
    data = _json(capsys, ["upgrade", *MIXED, *TARGET, "--kwh-price", "0.3", "--psu", "1000"])
    assert data["goal"] == "fastest" and data["currency"] == "USD"
    option = data["options"][0]
    for key in OPTION_FIELDS:
        assert key in option
    assert set(option["power"]) >= {"board_w", "peak_w", "psu_recommended_w", "psu_upgrade_needed"}
    assert set(option["decode_tokens_per_s"]) == {"low", "expected", "high"}
    priced = [o for o in data["options"] if o["net_cost"] is not None]
    assert priced
    assert set(priced[0]["net_cost"]) >= {"low", "high", "currency", "as_of", "stale"}
    assert [o["rank"] for o in data["options"]] == list(range(1, len(data["options"]) + 1))


def test_upgrade_electricity_from_kwh_price(capsys) -> None:
    data = _json(capsys, ["upgrade", *MIXED, *TARGET, "--kwh-price", "0.25", "--hours-per-day", "4"])
    keep = next(o for o in data["options"] if o["id"] == "keep")
    sustained = keep["power"]["sustained_w"]
    assert keep["yearly_electricity"] == round(sustained * 4 * 365 / 1000 * 0.25, 2)
    assert keep["tco_12_months"]["expected"] == keep["yearly_electricity"]


def test_upgrade_price_override_sets_net_cost(capsys) -> None:
    data = _json(capsys, ["upgrade", *MIXED, *TARGET, "--price", "RTX 4090=1000:new", "--price", "RTX 4090=900:used",
                          "--condition", "new"])
    add = next(o for o in data["options"] if o["id"] == "add:rtx-4090")
    assert add["net_cost"]["low"] == add["net_cost"]["high"] == 1000
    assert add["net_cost"]["as_of"] is None
    swap = next(o for o in data["options"] if o["id"] == "swap:rtx-4090:rtx-3090")
    add_3090 = next(o for o in data["options"] if o["id"] == "add:rtx-3090")
    # Selling the 4090 at the 900 override lowers the cost of a new 3090 by exactly 900.
    assert swap["net_cost"]["expected"] == add_3090["net_cost"]["expected"] - 900


def test_upgrade_psu_flag(capsys) -> None:
    data = _json(capsys, ["upgrade", *MIXED, *TARGET, "--psu", "850"])
    keep = next(o for o in data["options"] if o["id"] == "keep")
    assert keep["power"]["psu_upgrade_needed"] is True
    assert any(w["code"] == "psu-upgrade" for w in keep["warnings"])


def test_upgrade_comparison_rows(capsys) -> None:
    data = _json(capsys, ["upgrade", *MIXED, *TARGET])
    rows = data["comparison"]
    assert [r["gpus"] for r in rows] == [["rtx-4090", "rtx-3090"], ["rtx-3090", "rtx-3090"], ["rtx-4090", "rtx-4090"]]
    assert rows[1]["nvlink"] is True and rows[2]["nvlink"] is False
    assert all(r["decode_tokens_per_s"] for r in rows)


def test_upgrade_other_currency_has_no_prices(capsys) -> None:
    data = _json(capsys, ["upgrade", *MIXED, *TARGET, "--currency", "eur"])
    assert data["currency"] == "EUR"
    assert all(o["net_cost"] is None for o in data["options"] if o["id"] != "keep")
    assert any("does not convert" in w["message"] for o in data["options"] for w in o["warnings"])


def test_upgrade_bad_price_is_usage_error(capsys) -> None:
    assert main(["upgrade", *MIXED, *TARGET, "--price", "RTX 4090=lots"]) == 2
    assert "--price: invalid amount 'lots'" in capsys.readouterr().err


def test_upgrade_unknown_model_is_usage_error(capsys) -> None:
    assert main(["upgrade", *MIXED, "--target-model", "llama-9000"]) == 2
    assert "unknown model" in capsys.readouterr().err


def test_shop_json_stays_in_budget(capsys) -> None:
    data = _json(capsys, ["shop", "--budget", "1000", "--max-cards", "1", "--target-model", "llama-3.1-8b", "--top", "3"])
    assert data["options"]
    assert all(o["net_cost"]["expected"] <= 1000 for o in data["options"])
    assert data["evaluated"] <= data["combinations"]
    assert any("only they can be bought" in n for n in data["notes"])
    for key in OPTION_FIELDS:
        assert key in data["options"][0]


def test_shop_sell_current_needs_gpu(capsys) -> None:
    assert main(["shop", "--budget", "1000", "--target-model", "llama-3.1-8b", "--sell-current"]) == 2
    assert "--sell-current needs" in capsys.readouterr().err


def test_upgrade_table_fits_80_columns(capsys, monkeypatch) -> None:
    data = _json(capsys, ["upgrade", *MIXED, *TARGET])
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["upgrade", *MIXED, *TARGET]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines)
    for option in data["options"]:
        # Every title that fits beside its rank reads on one line, and its figures follow it.
        if len(option["title"]) <= 75:
            index = next(i for i, line in enumerate(lines) if line.strip() == f"{option['rank']}. {option['title']}")
            assert "GiB" in lines[index + 1]
    assert len(lines) < 3 * (len(data["options"]) + len(data["comparison"])) + 15


def test_upgrade_unknown_resale_is_upper_bound(capsys) -> None:
    data = _json(capsys, ["upgrade", *MIXED, *TARGET, "--currency", "EUR", "--price", "RTX 5090=1800"])
    option = next(o for o in data["options"] if o["id"] == "replace:2:rtx-5090")
    assert option["net_cost"]["expected"] == 3600
    assert option["net_cost"]["upper_bound"] is True
    messages = " ".join(w["message"] for w in option["warnings"])
    assert "Resale of GeForce RTX 4090 not counted: no used EUR price" in messages
    assert "at most 3,600 EUR" in option["reason"]
    assert main(["upgrade", *MIXED, *TARGET, "--currency", "EUR", "--price", "RTX 5090=1800"]) == 0
    text = capsys.readouterr().out
    assert "≤ 3,600" in text
    assert "Resale of GeForce RTX 3090 not counted" in text


def test_shop_goal_currency_and_max_cards(capsys) -> None:
    data = _json(capsys, ["shop", "--budget", "3000", "--max-cards", "2", "--goal", "value", "--currency", "usd",
                          "--target-model", "llama-3.3-70b", "--top", "4"])
    assert data["goal"] == "value"
    assert data["currency"] == "USD"
    assert data["budget"] == 3000
    assert len(data["options"]) == 4
    assert all(len(o["gpus"]) <= 2 for o in data["options"])
    assert [o["rank"] for o in data["options"]] == [1, 2, 3, 4]
    assert all(o["net_cost"]["currency"] == "USD" for o in data["options"])


def test_shop_other_currency_searches_nothing(capsys) -> None:
    data = _json(capsys, ["shop", "--budget", "3000", "--currency", "EUR", "--target-model", "llama-3.1-8b"])
    assert data["options"] == []
    assert data["purchasable"] == []
    assert any("no EUR purchase price" in n for n in data["notes"])


def test_shop_bad_max_cards_is_usage_error(capsys) -> None:
    assert main(["shop", "--budget", "3000", "--max-cards", "9", "--target-model", "llama-3.1-8b"]) == 2
    assert "--max-cards: 9 is out of range" in capsys.readouterr().err
