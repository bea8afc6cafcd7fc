"""The digest HTML in headless Chromium: Arabic and Hebrew lay out right-to-left, nothing overflows.

Two looks at the same page. A probe script (added by this test; the email itself carries none)
measures where the first and last characters of each headline and excerpt land, and a screenshot
shows where the ink actually is. Headless windows are at least 500 px wide, so the probe sees
the email through an iframe of the phone's width at the page's origin; the screenshot renders
the email alone at that width, so both see the same layout. Chromium is Debian's `chromium`;
without it the test skips, except in CI (CI=true), where it fails.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from monitor.digest import (
    DigestSettings,
    Member,
    Story,
    TagHit,
    Window,
    build_digest,
    render_digest,
)

END = datetime(2025, 6, 11, 6, 0, tzinfo=UTC)
PHONE = (375, 2400)
DESKTOP = (1024, 2400)

AR_SHORT = "زيارة عسكرية إسرائيلية للرباط"
AR_LATIN_FIRST = "F-16 مقاتلات جديدة للقوات الملكية الجوية"  # Latin run first, still RTL
AR_LONG = (
    "رئيس أركان الجيش الإسرائيلي يحل بالرباط في أول زيارة رسمية لبحث التعاون العسكري "
    "وتبادل الخبرات في مجال الطائرات المسيرة والدفاع الجوي"
)
HE_SHORT = "ישראל ומרוקו חתמו על עסקה"
FR_SHORT = "Exercice conjoint au Maroc"
EN_WITH_HEBREW = "Elbit and צה״ל sign deal"  # dir=auto: starts with a Latin letter, stays LTR
RTL_HEADLINES = {AR_SHORT, AR_LATIN_FIRST, AR_LONG, HE_SHORT}
LTR_HEADLINES = {FR_SHORT, EN_WITH_HEBREW}

PROBE = """
<script>
(function () {
  function box(r) {
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom};
  }
  function charBox(node, i) {
    var range = document.createRange();
    range.setStart(node, i);
    range.setEnd(node, i + 1);
    return box(range.getBoundingClientRect());
  }
  function textNodes(el) {
    var walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT), node, nodes = [];
    while ((node = walker.nextNode())) { if (node.data.trim()) { nodes.push(node); } }
    return nodes;
  }
  var out = {viewport: window.innerWidth, scrollWidth: document.documentElement.scrollWidth,
             table: box(document.querySelector("table").getBoundingClientRect()), blocks: []};
  document.querySelectorAll("h3, p[lang]").forEach(function (el) {
    var nodes = textNodes(el), first = nodes[0], last = nodes[nodes.length - 1];
    var start = first.data.search(/\\S/), end = last.data.length - 1;
    while (/\\s/.test(last.data[end])) { end--; }
    var rtlAt = first.data.search(/[\\u0590-\\u08ff]/);
    var whole = document.createRange(), tops = {};
    whole.selectNodeContents(el);
    nodes.forEach(function (node) {
      var range = document.createRange();
      range.selectNodeContents(node);
      Array.prototype.forEach.call(range.getClientRects(), function (r) {
        tops[Math.round(r.top)] = true; });
    });
    out.blocks.push({
      tag: el.tagName.toLowerCase(), lang: el.lang, dir: el.dir,
      text: el.textContent.trim(), box: box(el.getBoundingClientRect()),
      ink: box(whole.getBoundingClientRect()), lines: Object.keys(tops).length,
      first: charBox(first, start), last: charBox(last, end),
      firstRtl: rtlAt >= 0 ? charBox(first, rtlAt) : null
    });
  });
  out.maxRight = Math.max.apply(null, Array.prototype.map.call(
    document.querySelectorAll("body *"), function (el) {
      return el.getBoundingClientRect().right; }));
  parent.document.getElementById("probe").textContent = JSON.stringify(out);
})();
</script>
"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("headless Chromium is required in CI (apt-get install -y chromium)")
    pytest.skip("Chromium not installed (apt-get install -y chromium)")


def run_chromium(page: Path, size: tuple[int, int], profile: Path, *args: str) -> str:
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",  # root in containers; the page is our own file
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--user-data-dir={profile}",
        f"--window-size={size[0]},{size[1]}",
        *args,
        page.as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def member(outlet: str, country: str, lang: str, title: str, hours: float, **kw: Any) -> Member:
    seen = END - timedelta(hours=hours)
    tags = (TagHit("defense-cooperation", 2.0, ("تعاون",)), TagHit(kw.pop("tag"), 3.0))
    url = f"https://{outlet.lower()}.example/{hours}"
    return Member(outlet, country, lang, title, url, seen, seen, tags=tags, **kw)


def digest_html() -> str:
    stories = [
        Story(1, (member("Hespress", "MA", "ar", AR_SHORT, 9, tag="military-visit"),)),
        Story(2, (member("Le360", "MA", "ar", AR_LATIN_FIRST, 8, tag="arms-deal"),)),
        Story(
            3,
            (
                member(
                    "Alyaoum24",
                    "MA",
                    "ar",
                    AR_LONG,
                    7,
                    tag="military-visit",
                    excerpt="حلّ رئيس الأركان بالرباط صباح اليوم.",
                ),
            ),
        ),
        Story(
            4,
            (
                member(
                    "Ynet",
                    "IL",
                    "he",
                    HE_SHORT,
                    6,
                    tag="arms-deal",
                    excerpt="העסקה כוללת מערכות הגנה אוויריות.",
                ),
            ),
        ),
        Story(5, (member("Yabiladi", "MA", "fr", FR_SHORT, 5, tag="joint-exercise"),)),
        Story(6, (member("Globes", "IL", "en", EN_WITH_HEBREW, 4, tag="defense-industry"),)),
        Story(
            7,
            (
                member(
                    "Junk",
                    "MA",
                    "fr",
                    "Accord",
                    3,
                    tag="security-agreement",
                    excerpt="x" * 5000,  # one unbroken token must wrap, not widen the page
                ),
            ),
        ),
    ]
    window = Window(END - timedelta(days=1), END)
    digest = build_digest(stories, window, ["defense-cooperation"], DigestSettings())
    return render_digest(digest).html


@dataclass
class Page:
    probe: dict[str, Any]
    screenshot: Path | None


def load(tmp_path: Path, size: tuple[int, int], *, screenshot: bool) -> Page:
    document = digest_html()
    assert "<script" not in document  # the probe is the test's, not the email's
    width, height = size
    framed = html.escape(document.replace("</body>", PROBE + "</body>"), quote=True)
    probe_page = tmp_path / f"probe-{width}.html"
    probe_page.write_text(
        '<!DOCTYPE html><html><body style="margin:0"><pre id="probe" hidden></pre>'
        f'<iframe style="display:block;border:0;width:{width}px;height:{height}px" '
        f'srcdoc="{framed}"></iframe></body></html>',
        encoding="utf-8",
    )
    dom = run_chromium(probe_page, DESKTOP, tmp_path / "profile", "--dump-dom")
    found = re.search(r'<pre id="probe" hidden="">(.*?)</pre>', dom, re.S)
    assert found and found.group(1), dom[-2000:]
    shot = None
    if screenshot:
        page = tmp_path / f"digest-{width}.html"
        page.write_text(document, encoding="utf-8")
        shot = tmp_path / f"digest-{width}.png"
        run_chromium(page, size, tmp_path / "profile", f"--screenshot={shot}")
    return Page(json.loads(html.unescape(found.group(1))), shot)


@pytest.fixture(scope="module")
def phone(tmp_path_factory: pytest.TempPathFactory) -> Page:
    return load(tmp_path_factory.mktemp("phone"), PHONE, screenshot=True)


def headlines(page: Page) -> dict[str, dict[str, Any]]:
    return {b["text"]: b for b in page.probe["blocks"] if b["tag"] == "h3"}


def test_rtl_headlines_start_at_the_right_edge(phone: Page) -> None:
    blocks = headlines(phone)
    assert set(blocks) >= RTL_HEADLINES | LTR_HEADLINES
    for title in RTL_HEADLINES:
        block = blocks[title]
        assert block["dir"] == "rtl", title
        assert block["ink"]["right"] == pytest.approx(block["box"]["right"], abs=3), title
    for title in (AR_SHORT, HE_SHORT):
        block = blocks[title]
        assert block["lines"] == 1
        # Reading order runs right to left: the first character is the rightmost one.
        assert block["first"]["right"] == pytest.approx(block["box"]["right"], abs=3), title
        assert block["first"]["left"] > block["last"]["right"], title
        assert block["ink"]["left"] > block["box"]["left"] + 40, title  # short: space on the left


def test_a_latin_run_at_the_start_of_an_arabic_headline_sits_on_the_right(phone: Page) -> None:
    block = headlines(phone)[AR_LATIN_FIRST]
    # "F-16" comes first logically, so in an RTL line it is the rightmost run, and the Arabic
    # words continue to its left; under dir=auto/ltr they would be on its right. Whether the
    # headline fits one line at phone width depends on the installed fonts, so only its first
    # line is judged.
    assert block["first"]["left"] > block["box"]["right"] - 60  # "F" within "F-16" at the right
    assert block["firstRtl"]["right"] <= block["first"]["left"] + 1


def test_a_long_arabic_headline_wraps_right_to_left(phone: Page) -> None:
    block = headlines(phone)[AR_LONG]
    assert block["lines"] >= 2
    assert block["first"]["top"] < block["last"]["top"]  # starts on the first line
    assert block["first"]["right"] == pytest.approx(block["box"]["right"], abs=3)


def test_ltr_headlines_start_at_the_left_edge(phone: Page) -> None:
    blocks = headlines(phone)
    for title in LTR_HEADLINES:
        block = blocks[title]
        assert block["first"]["left"] == pytest.approx(block["box"]["left"], abs=3), title
        assert block["first"]["right"] < block["last"]["left"], title
        assert block["ink"]["right"] < block["box"]["right"] - 40, title


def test_rtl_excerpts_are_right_aligned(phone: Page) -> None:
    excerpts = [b for b in phone.probe["blocks"] if b["tag"] == "p" and b["lang"] in {"ar", "he"}]
    assert {b["lang"] for b in excerpts} == {"ar", "he"}
    for block in excerpts:
        assert block["dir"] == "rtl"
        assert block["first"]["right"] == pytest.approx(block["box"]["right"], abs=3)
        assert block["first"]["left"] > block["last"]["right"]


def test_nothing_overflows_a_phone_screen(phone: Page) -> None:
    probe = phone.probe
    assert probe["viewport"] == PHONE[0]
    assert probe["scrollWidth"] <= PHONE[0]  # no sideways scrolling, even with a 5000-char token
    assert probe["maxRight"] <= PHONE[0]
    assert probe["table"]["right"] - probe["table"]["left"] > PHONE[0] - 20  # uses the width


def test_column_is_capped_and_centred_on_a_wide_screen(tmp_path: Path) -> None:
    probe = load(tmp_path, DESKTOP, screenshot=False).probe
    table = probe["table"]
    assert table["right"] - table["left"] == pytest.approx(640, abs=1)
    assert table["left"] == pytest.approx(DESKTOP[0] - table["right"], abs=2)


def ink_columns(image: Image.Image, top: float, bottom: float) -> tuple[int, int]:
    """Leftmost and rightmost pixel columns holding dark ink between two rows."""
    band = image.crop((0, int(top) + 2, image.width, int(bottom) - 2)).convert("L")
    dark = band.point(lambda v: 255 if v < 150 else 0)
    box = dark.getbbox()
    assert box is not None, "no ink in the band: nothing was drawn"
    return box[0], box[2]


def test_screenshot_shows_rtl_ink_on_the_right_and_ltr_ink_on_the_left(phone: Page) -> None:
    assert phone.screenshot is not None
    with Image.open(phone.screenshot) as image:
        assert image.size == PHONE
        blocks = headlines(phone)
        for title in (AR_SHORT, HE_SHORT, FR_SHORT, EN_WITH_HEBREW):
            block = blocks[title]
            left, right = ink_columns(image, block["box"]["top"], block["box"]["bottom"])
            # The pixels agree with the layout engine's idea of the text...
            assert left == pytest.approx(block["ink"]["left"], abs=4), title
            assert right == pytest.approx(block["ink"]["right"], abs=4), title
            # ...and sit on the side the script reads from.
            if title in RTL_HEADLINES:
                assert right >= block["box"]["right"] - 4 and left > block["box"]["left"] + 40
            else:
                assert left <= block["box"]["left"] + 4 and right < block["box"]["right"] - 40
