"""The command line: render a dataset folder, inspect it, print JSON."""

import json

from edge_worker.vision import cli


def test_it_renders_a_dataset_and_inspects_the_folder(tmp_path, capsys):
    out = tmp_path / "ds"
    assert cli.main(["render", "--out", str(out), "--count", "4", "--seed", "3"]) == 0
    labels = json.loads((out / "labels.json").read_text())
    assert labels["count"] == 4 and len(list((out / "images").glob("*.png"))) == 4
    assert (out / "labels.csv").read_text().count("\n") == 5
    capsys.readouterr()
    code = cli.main(["inspect", str(out / "images"), "--json", "--backend", "onnxruntime"])
    results = json.loads(capsys.readouterr().out)
    assert len(results) == 4 and code in (0, 1)
    assert {r["part_type"] for r in results} == {"CF-80", "TF-12"}
    assert all(r["verdict"] in ("pass", "fail") for r in results)


def test_it_prints_text_for_one_image_and_exits_2_on_an_error(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"")
    assert cli.main(["inspect", str(bad), "--backend", "none"]) == 2
    assert "ERROR" in capsys.readouterr().out
