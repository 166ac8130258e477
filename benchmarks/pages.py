"""Deterministic, realistic HTML pages for benchmarks and tests.

:func:`page` builds a news-site article page of roughly the requested size: navigation,
articles with lists, tables, inline styles, images, inline SVG icons, comments and a dozen
third-party trackers (gtag, GTM, Meta pixel with its noscript image, DoubleClick, Hotjar,
LinkedIn, TikTok, an X embed, YouTube and Google Maps iframes). :data:`TRACKER_COUNT` is the
number of elements a rewriter refusing every optional category must block per page.
"""

from __future__ import annotations

import random
from typing import Final

SIZES: Final = {"small": 20_000, "medium": 300_000, "large": 3_000_000}

_WORDS = [
    "consent",
    "privacy",
    "cookie",
    "market",
    "city",
    "council",
    "report",
    "season",
    "weather",
    "energy",
    "transport",
    "science",
    "school",
    "music",
    "museum",
    "budget",
    "climate",
    "harbour",
    "bridge",
    "festival",
    "garden",
    "election",
    "library",
    "hospital",
    "football",
    "river",
    "village",
    "winter",
    "summer",
    "digital",
    "policy",
    "research",
]

_HEAD_TRACKERS = """\
<script async src="https://www.googletagmanager.com/gtag/js?id=G-BENCH01"></script>
<script>
  window.dataLayer = window.dataLayer || [];
  function gtag(){dataLayer.push(arguments);}
  gtag('js', new Date());
  gtag('config', 'G-BENCH01', {anonymize_ip: true});
</script>
<script>(function(w,d,s,l,i){w[l]=w[l]||[];w[l].push({'gtm.start':
new Date().getTime(),event:'gtm.js'});var f=d.getElementsByTagName(s)[0],
j=d.createElement(s),dl=l!='dataLayer'?'&l='+l:'';j.async=true;j.src=
'https://www.googletagmanager.com/gtm.js?id='+i+dl;f.parentNode.insertBefore(j,f);
})(window,document,'script','dataLayer','GTM-BENCH');</script>
<script>
!function(f,b,e,v,n,t,s){if(f.fbq)return;n=f.fbq=function(){n.callMethod?
n.callMethod.apply(n,arguments):n.queue.push(arguments)};if(!f._fbq)f._fbq=n;
t=b.createElement(e);t.async=!0;t.src=v;s=b.getElementsByTagName(e)[0];
s.parentNode.insertBefore(t,s)}(window, document,'script',
'https://connect.facebook.net/en_US/fbevents.js');
fbq('init', '000000000000001');
fbq('track', 'PageView');
</script>
<noscript><img height="1" width="1" style="display:none"
src="https://www.facebook.com/tr?id=000000000000001&amp;ev=PageView&amp;noscript=1"/></noscript>
<script>
(function(h,o,t,j,a,r){h.hj=h.hj||function(){(h.hj.q=h.hj.q||[]).push(arguments)};
h._hjSettings={hjid:1000001,hjsv:6};a=o.getElementsByTagName('head')[0];
r=o.createElement('script');r.async=1;r.src=t+h._hjSettings.hjid+j+h._hjSettings.hjsv;
a.appendChild(r);})(window,document,'https://static.hotjar.com/c/hotjar-','.js?sv=');
</script>
<link rel="preconnect" href="https://www.google-analytics.com">
<link rel="dns-prefetch" href="//securepubads.g.doubleclick.net">
<script async src="https://securepubads.g.doubleclick.net/tag/js/gpt.js"></script>
"""
_HEAD_TRACKER_COUNT: Final = 9

_BODY_TRACKERS = """\
<iframe width="560" height="315" src="https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"
 title="Video" allow="accelerometer; autoplay" allowfullscreen></iframe>
<iframe src="https://www.google.com/maps/embed?pb=!1m18!1m12" width="600" height="450"
 style="border:0;" loading="lazy"></iframe>
<blockquote class="twitter-tweet"><p lang="en">A tweet &gt; quoted</p></blockquote>
<script async src="https://platform.twitter.com/widgets.js" charset="utf-8"></script>
"""
_BODY_TRACKER_COUNT: Final = 3

_FOOT_TRACKERS = """\
<script type="text/javascript">
_linkedin_partner_id = "1000001";
window._linkedin_data_partner_ids = window._linkedin_data_partner_ids || [];
window._linkedin_data_partner_ids.push(_linkedin_partner_id);
</script>
<script type="text/javascript">(function(l) {var s = document.getElementsByTagName("script")[0];
var b = document.createElement("script");b.type = "text/javascript";b.async = true;
b.src = "https://snap.licdn.com/li.lms-analytics/insight.min.js";
s.parentNode.insertBefore(b, s);})(window.lintrk);</script>
<noscript><img height="1" width="1" style="display:none;" alt=""
 src="https://px.ads.linkedin.com/collect/?pid=1000001&fmt=gif" /></noscript>
<script>
!function (w, d, t) {w.TiktokAnalyticsObject=t;var ttq=w[t]=w[t]||[];
ttq.load('CBENCH0000000');ttq.page();}(window, document, 'ttq');
</script>
<img src="https://ad.doubleclick.net/ddm/activity/src=1;type=x;cat=y;ord=1?"
 width="1" height="1" alt="">
"""
_FOOT_TRACKER_COUNT: Final = 5

TRACKER_COUNT: Final = _HEAD_TRACKER_COUNT + _BODY_TRACKER_COUNT + _FOOT_TRACKER_COUNT
"""Elements to block per page when every optional category is refused."""


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(_WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def _article(rng: random.Random, index: int) -> str:
    paragraphs = "\n".join(
        f'<p style="margin:0 0 1em">{_sentence(rng, rng.randint(20, 60))} '
        f'<a href="/news/{index}/{k}?ref=body&amp;x=1" class="inline-link">'
        f"{rng.choice(_WORDS)}</a> {_sentence(rng, rng.randint(8, 30))}</p>"
        for k in range(rng.randint(3, 7))
    )
    items = "".join(f"<li>{_sentence(rng, 6)}</li>" for _ in range(rng.randint(2, 5)))
    rows = "".join(
        f"<tr><td>{rng.choice(_WORDS)}</td><td data-value='{rng.randint(1, 999)}'>"
        f"{rng.randint(1, 999)}</td></tr>"
        for _ in range(3)
    )
    return (
        f'<article id="a{index}" class="story card" data-index="{index}">\n'
        f"<h2><a href='/news/{index}'>{_sentence(rng, 8)}</a></h2>\n"
        f'<img src="/img/{index}.jpg" srcset="/img/{index}@2x.jpg 2x" alt="{rng.choice(_WORDS)}"'
        f' loading="lazy" width="640" height="360">\n'
        f'<svg class="icon" viewBox="0 0 24 24" aria-hidden="true"><path d="M12 2L2 7l10 5 '
        f'10-5-10-5z"/><title>icon</title></svg>\n'
        f'{paragraphs}\n<ul class="facts">{items}</ul>\n'
        f"<table class=stats><tbody>{rows}</tbody></table>\n"
        f"<!-- article {index} end -->\n</article>\n"
    )


def _nav(rng: random.Random) -> str:
    links = "".join(
        f'<li class="nav-item"><a href="/section/{w}" title="Section: {w} &gt; all">{w}</a></li>'
        for w in rng.sample(_WORDS, 12)
    )
    return f'<nav class="main-nav" aria-label="Main"><ul>{links}</ul></nav>\n'


def page(size: int, seed: int = 7) -> bytes:
    """A UTF-8 page of at least *size* bytes, always the same for the same arguments."""
    rng = random.Random(seed)
    head = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        "<title>Daily Bench — news</title>\n"
        "<style>body{font:16px/1.5 sans-serif}.card>h2{margin:0}a[href^='/']{color:#036}</style>\n"
        '<script type="application/ld+json">{"@type":"NewsArticle","headline":"Bench"}</script>\n'
        '<script src="/static/app.js" defer></script>\n'
        f'{_HEAD_TRACKERS}</head>\n<body class="home">\n{_nav(rng)}<main>\n'
    )
    tail = (
        f"</main>\n{_BODY_TRACKERS}<footer><p>© Daily Bench. Ünïcödé façade.</p></footer>\n"
        f"{_FOOT_TRACKERS}</body>\n</html>\n"
    )
    parts = [head]
    total = len(head) + len(tail)
    index = 0
    while total < size:
        article = _article(rng, index)
        parts.append(article)
        total += len(article)
        index += 1
    parts.append(tail)
    return "".join(parts).encode("utf-8")


def pages() -> dict[str, bytes]:
    """The three benchmark pages, by name."""
    return {name: page(size) for name, size in SIZES.items()}
