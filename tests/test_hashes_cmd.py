"""`filter-proxy hashes add | import | check` on sample photographs and a temporary rules directory."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from PIL import Image
from skimage import data

from filter_proxy.cli import main
from filter_proxy.matchers.images import compute_hashes

POLICY = """
[categories.listed]
action = "block"
warning = "deterrence"

[images]
algorithms = ["phash", "dhash"]
"""


def save(path: Path, name: str, flip: bool = False) -> Path:
    image = Image.fromarray(getattr(data, name)()).convert("RGB")
    if flip:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    buf = io.BytesIO()
    image.save(buf, "PNG")
    path.write_bytes(buf.getvalue())
    return path


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    root = tmp_path / "rules"
    root.mkdir()
    (root / "policy.toml").write_text(POLICY)
    return root


def content_lines(path: Path) -> list[str]:
    return [line for line in path.read_text().splitlines() if line and not line.startswith("#")]


def test_add_appends_configured_algorithms_and_sha256_once(rules: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    img = save(tmp_path / "astronaut.png", "astronaut")
    assert main(["hashes", "add", str(img), "--category", "listed", "--rules", str(rules), "--no-crops"]) == 0
    target = rules / "images" / "listed.csv"
    assert target.read_text().startswith("# Known image hashes of category listed")
    expected = compute_hashes(img.read_bytes(), ["phash", "dhash", "sha256"])
    picture = f"pic:{expected['sha256'][:16]}"
    assert content_lines(target) == [f"{a},{h},{picture}" for a, h in expected.items()]
    assert main(["hashes", "add", str(img), "--category", "listed", "--rules", str(rules), "--no-crops"]) == 0
    assert len(content_lines(target)) == 3  # no duplicates
    assert "0 hash(es), 3 already present" in capsys.readouterr().out


def test_add_enrolls_crops_under_one_picture_id(rules: Path, tmp_path: Path) -> None:
    img = save(tmp_path / "coffee.png", "coffee")
    assert main(["hashes", "add", str(img), "--category", "listed", "--rules", str(rules), "--note", "case 7"]) == 0
    rows = [line.split(",", 2) for line in content_lines(rules / "images" / "listed.csv")]
    whole = compute_hashes(img.read_bytes(), ["phash", "dhash", "sha256"])
    picture = f"pic:{whole['sha256'][:16]}"
    assert {(a, h) for a, h, _ in rows} >= set(whole.items())
    assert all(note.startswith(picture) and note.endswith("; case 7") for _, _, note in rows)
    labels = {note[len(picture):].split(";")[0].strip() for _, _, note in rows}
    assert {"", "crop 5%", "crop 10%", "crop 8% left"} <= labels
    assert sum(a == "sha256" for a, _, _ in rows) == 1  # crops are perceptual only


def test_add_refuses_undecodable_images_and_writes_nothing(rules: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    good = save(tmp_path / "coffee.png", "coffee")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    assert main(["hashes", "add", str(good), str(bad), "--category", "listed", "--rules", str(rules)]) == 1
    assert not (rules / "images" / "listed.csv").exists()
    assert f"{bad}: cannot decode image" in capsys.readouterr().err
    assert main(["hashes", "add", str(good), "--category", "../evil", "--rules", str(rules)]) == 2


def test_import_plain_and_csv_lists(rules: Path, tmp_path: Path) -> None:
    plain = tmp_path / "list.txt"
    plain.write_text("# md5 list\n" + "0" * 32 + "\n\n" + "A" * 32 + "\n" + "0" * 32 + "\n")
    assert main(["hashes", "import", str(plain), "--category", "listed", "--algorithm", "md5",
                 "--rules", str(rules)]) == 0
    shared = tmp_path / "shared.csv"
    shared.write_text("name,md5\nfile one," + "b" * 32 + "\nfile two," + "a" * 32 + "\n")
    assert main(["hashes", "import", str(shared), "--category", "listed", "--algorithm", "md5",
                 "--rules", str(rules)]) == 0
    hashes = [line.split(",")[1] for line in content_lines(rules / "images" / "listed.csv")]
    assert hashes == ["0" * 32, "a" * 32, "b" * 32]  # lowercased, deduplicated, header skipped


def test_import_reports_bad_lines_and_imports_nothing(rules: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    listed = tmp_path / "list.txt"
    listed.write_text("c" * 40 + "\nnot-a-hash\n" + "d" * 39 + "\n")
    args = ["hashes", "import", str(listed), "--category", "listed", "--algorithm", "sha1", "--rules", str(rules)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert f"{listed}:2: no valid sha1 hash" in err and f"{listed}:3: no valid sha1 hash" in err
    assert "nothing imported" in err and not (rules / "images" / "listed.csv").exists()
    assert main([*args, "--skip-bad"]) == 0  # skipping was asked for (deliberate change: it was 1)
    assert "2 bad line(s) skipped" in capsys.readouterr().out
    assert content_lines(rules / "images" / "listed.csv") == ["sha1," + "c" * 40 + ",imported from list.txt"]


def test_check_prints_verdict_and_distances(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("filter_proxy.matchers.terms")  # the full rule loader (engineer B) needs it
    pytest.importorskip("filter_proxy.warnings")
    rules = tmp_path / "rules"
    shutil.copytree(Path(__file__).resolve().parents[1] / "rules", rules)
    listed = save(tmp_path / "astronaut.png", "astronaut")
    assert main(["hashes", "add", str(listed), "--category", "zqx-abuse", "--rules", str(rules)]) == 0
    capsys.readouterr()
    flipped = save(tmp_path / "flipped.png", "astronaut", flip=True)
    other = save(tmp_path / "camera.png", "camera")
    assert main(["hashes", "check", str(listed), str(flipped), str(other), "--rules", str(rules)]) == 0
    out = capsys.readouterr().out
    blocks = out.split(f"{tmp_path}/")
    assert blocks[1].startswith("astronaut.png: block (category zqx-abuse, rules/images/zqx-abuse.csv:")
    assert "sha256  distance 0" in blocks[1]
    assert blocks[2].startswith("flipped.png: block") and "phash   distance" in blocks[2]
    assert blocks[3].startswith("camera.png: allow") and "sha256  no match" in blocks[3]


@pytest.mark.parametrize("command", ["add", "import"])
def test_an_undeclared_category_is_refused_with_a_suggestion(rules: Path, tmp_path: Path, command: str,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    source = save(tmp_path / "a.png", "astronaut") if command == "add" else tmp_path / "list.txt"
    if command == "import":
        source.write_text("0" * 32 + "\n")
    extra = ["--algorithm", "md5"] if command == "import" else []
    assert main(["hashes", command, str(source), "--category", "listd", "--rules", str(rules), *extra]) == 2
    err = capsys.readouterr().err
    assert "'listd' is not declared" in err and "did you mean 'listed'?" in err and "declared: listed" in err
    assert not (rules / "images").exists()  # nothing written: no file that would make every reload fail


@pytest.mark.parametrize("missing", ["folder", "policy"])
def test_a_missing_rules_folder_or_policy_is_refused(tmp_path: Path, missing: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "rules"
    if missing == "policy":
        root.mkdir()
    listed = tmp_path / "list.txt"
    listed.write_text("0" * 32 + "\n")
    assert main(["hashes", "import", str(listed), "--category", "listed", "--algorithm", "md5",
                 "--rules", str(root)]) == 2
    err = capsys.readouterr().err
    assert ("rules folder" in err and "not found" in err) if missing == "folder" else "policy.toml not found" in err
    assert not (root / "images").exists() and (root.exists() == (missing == "policy"))


def test_add_enrolls_dhash_crops_and_the_transposed_picture(rules: Path, tmp_path: Path) -> None:
    """dHash is enrolled for the crops and for the transposed picture too: a near match of the picture is
    then verified by the other algorithm and by both dHash views (matchers/image_verify.py)."""
    img = save(tmp_path / "rocket.png", "rocket")
    assert main(["hashes", "add", str(img), "--category", "listed", "--rules", str(rules)]) == 0
    rows = [line.split(",", 2) for line in content_lines(rules / "images" / "listed.csv")]
    dhash = [note for a, _, note in rows if a == "dhash"]
    assert sum("transposed" in n for n in dhash) > 1 and sum("transposed" not in n for n in dhash) > 1
    assert any("crop 5% transposed" in n for n in dhash)
    assert not any("transposed" in note for a, _, note in rows if a != "dhash")
    assert sum(a == "phash" for a, _, _ in rows) > 1
