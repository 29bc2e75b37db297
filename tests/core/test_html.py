from pconv.core.html import figure, markdown_html, page


def test_markdown_of_cards_and_tables_becomes_html():
    text = "\n".join(
        [
            "# Title <x>",
            "",
            "A **bold `x`** `a<b` [link](SHA256SUMS) *it* 2 * 3",
            "continued.",
            "",
            "- one `x`",
            "  wrapped",
            "- two",
            "",
            "| a | b |",
            "|---|---|",
            "| 1 | (0.1,0.2] |",
            "",
            "```text",
            "<pre> & stays",
            "```",
        ]
    )
    assert markdown_html(text).splitlines() == [
        "<h1>Title &lt;x&gt;</h1>",
        '<p>A <strong>bold <code>x</code></strong> <code>a&lt;b</code> <a href="SHA256SUMS">link</a> '
        "<em>it</em> 2 * 3 continued.</p>",
        "<ul><li>one <code>x</code> wrapped</li><li>two</li></ul>",
        "<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody>"
        '<tr><td class="num">1</td><td>(0.1,0.2]</td></tr></tbody></table>',
        "<pre>&lt;pre&gt; &amp; stays</pre>",
    ]


def test_a_page_fetches_nothing_and_escapes_its_title():
    document = page("a < b", figure("grids/bin1.png", "Bin 1"))
    assert "<title>a &lt; b</title>" in document
    assert '<img src="grids/bin1.png" alt="Bin 1">' in document
    assert "http" not in document and "<script" not in document
    assert '<link rel="icon" href="data:,">' in document  # no favicon request from file://
