"""Scrapy settings of the crawler (`scrapy.cfg` points here).

Only Scrapy's own names and ours with the MONITOR_ prefix; `monitor crawl` fills the
MONITOR_* values from `settings.config.load_config()` before the crawl starts.
"""

from __future__ import annotations

BOT_NAME = "monitor"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

# Politeness: robots.txt obeyed, one request at a time per host, a pause between them, and a
# User-Agent that says who we are (filled from MONITOR_USER_AGENT).
ROBOTSTXT_OBEY = True
CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 1
DOWNLOAD_DELAY = 1.0
DOWNLOAD_DELAY_JITTER = 0.5  # ±50 % around the delay, so polls do not march in step
USER_AGENT = "media-monitor/0.1 (feed reader)"

# Limits: a feed is small (the outlets' biggest are a few hundred kB; 20,000 items fit in 5).
# 8 MiB refuses a gzip bomb in a fraction of a second, and what it decompresses before giving
# up keeps the crawl under 150 MB (the 1 GiB default would let it cost a gigabyte); 20 s
# bounds a server that never answers.
DOWNLOAD_MAXSIZE = 8 * 1024 * 1024
DOWNLOAD_WARNSIZE = 2 * 1024 * 1024
DOWNLOAD_TIMEOUT = 20
# Our item pipelines are synchronous, so parallel items gain nothing; at Scrapy's default of
# 100 a 20,000-entry feed holds the reactor for seconds between turns, long enough for other
# downloads' timeouts to expire mid-transfer (tests/test_faults.py, many-items).
CONCURRENT_ITEMS = 5
REDIRECT_MAX_TIMES = 5
# Only http and https: a redirect to file:, data:, ftp: or s3: finds no handler.
DOWNLOAD_HANDLERS = {"file": None, "data": None, "ftp": None, "s3": None}
# Failures are classified and rescheduled by the poller, not retried blindly in the crawl.
RETRY_ENABLED = False
COOKIES_ENABLED = False
TELNETCONSOLE_ENABLED = False
DNS_TIMEOUT = 10
LOG_LEVEL = "INFO"

# The data flow of DESIGN §2, in order.
ITEM_PIPELINES = {
    "monitor.pipelines.normalise.NormalisePipeline": 100,
    "monitor.pipelines.identify.IdentifyPipeline": 200,
    "monitor.pipelines.enrich.EnrichPipeline": 250,  # a fetched article page becomes an update
    "monitor.pipelines.cluster.ClusterPipeline": 300,  # syndicated copies -> one story
    "monitor.pipelines.tag.TagPipeline": 400,  # defence-cooperation tags with evidence
    "monitor.pipelines.store.StorePipeline": 900,
    "monitor.pipelines.enrich.FulltextRequestPipeline": 950,  # ask for pages of fulltext feeds
}
# Every request and redirect hop judged by the address guard, before robots.txt is asked.
DOWNLOADER_MIDDLEWARES = {"spiders.middlewares.NetGuardMiddleware": 40}

# Ours. Filled by `monitor crawl` from the environment (see settings/config.py).
MONITOR_DATABASE_URL = "sqlite:///monitor.db"
MONITOR_TOPICS_FILE = ""
MONITOR_DEDUPE_WINDOW_DAYS = 7
MONITOR_MIN_INTERVAL = 300  # seconds: bounds of a feed's adapted poll interval
MONITOR_MAX_INTERVAL = 21600
MONITOR_CRAWL_ALL = False  # poll every enabled feed, due or not
MONITOR_CRAWL_FEEDS: list[str] = []  # poll only these feed ids
MONITOR_FULLTEXT_MAX_ATTEMPTS = 3  # article page fetches per revision before giving up
MONITOR_FULLTEXT_MAXSIZE = 4 * 1024 * 1024  # bytes: an article page (feeds: DOWNLOAD_MAXSIZE)
MONITOR_FULLTEXT_REQUEST = "spiders.fulltext.page_request"  # builds article page requests
