"""Platform chrome goes, the author's words stay: fixtures are short excerpts of stored pages (the book's
warehouse backup: Substack, Medium imported as one run-on line, a Quarto blog) and of LinkedIn's feed."""

from __future__ import annotations

import uuid

import pytest

from llm_engineering.application.preprocessing.cleaning_data_handlers import ArticleCleaningHandler
from llm_engineering.application.preprocessing.operations.cleaning import clean_text
from llm_engineering.application.preprocessing.operations.page_chrome import (
    Chrome,
    chrome_markers,
    classify,
    strip_glued_chrome,
)
from llm_engineering.domain.documents import ArticleDocument

# Substack's header, as the handbook stores it (decodingml / maximelabonne publications).
SUBSTACK_HEADER = """# Maxime Labonne

SubscribeSign in

Share this post

#### Create Mixtures of Experts with MergeKit

maximelabonne.substack.com

Copy link

Facebook

Email

Note

Other

# Create Mixtures of Experts with MergeKit

### Combine multiple models into a single MoE

Maxime Labonne

Mar 27, 2024

1

Share this post

#### Create Mixtures of Experts with MergeKit

maximelabonne.substack.com

Copy link

Facebook

Email

Note

Other

Share

Thanks to the release of Mixtral, the **Mixture of Experts** (MoE)
architecture has become popular in recent months."""

# Substack's footer: like counter, share card, comments (a reader's, made up here) and the site footer.
SUBSTACK_FOOTER = """If not otherwise stated, all images are created by the author.

9

Share this post

#### Reduce your PyTorch code latency by 82%

decodingml.substack.com

Copy link

Facebook

Email

Note

Other

2

Share

PreviousNext

#### Discussion about this post

Comments

Restacks

| ReaderAug 3Liked by Paul IusztinGreat read, thanks.Expand full commentReplyShare

1 reply by Paul Iusztin

1 more comment...

Top

Latest

Discussions

No posts

Ready for more?

Subscribe

© 2024 Paul Iusztin

Privacy ∙ Terms ∙ Collection notice

Start WritingGet the app

Substack is the home for great culture

This site requires JavaScript to run correctly. Please turn on JavaScript or
unblock scripts"""

# Medium as the book's crawler stored it: one run-on line, chrome glued to the words.
MEDIUM_HEAD = (
    "End-to-End Framework for Production-Ready LLMs | Decoding MLOpen in appSign upSign inWriteSign upSign inTop "
    "highlightLLM Twin Course: Building Your Production-Ready AI ReplicaAn End-to-End Framework for "
    "Production-Ready LLM Systems by Building Your LLM TwinFrom data gathering to productionizing LLMs using "
    "LLMOps good practices.Paul Iusztin·FollowPublished inDecoding ML·16 min read·Mar 16, 20242.1K13ListenShare→ "
    "the 1st out of 12 lessons of the LLM Twin free courseWhat is your LLM Twin? It is an AI character that "
    "writes like yourself by incorporating your style, personality and voice into an LLM."
)
MEDIUM_TAIL = (
    " [5] Daniel Svonava and Paolo Perrone, Understanding the different Data Modality / Types (2023), "
    "SuperlinkedSign up to discover human stories that deepen your understanding of the world.FreeDistraction-free "
    "reading. No ads.Sign up for freeMembershipRead member-only storiesTry for $5/monthGenerative AiMachine "
    "Learning2.1K2.1K13FollowWritten by Paul Iusztin5.1K Followers·Editor for Decoding ML\n\n"
    "To make Medium work, we log user data. By using Medium, you agree to our Privacy Policy, including cookie "
    "policy."
)


def test_substack_header_leaves_only_the_title_subtitle_and_text():
    cleaned = clean_text(SUBSTACK_HEADER)
    assert cleaned.split("\n\n") == [
        "Create Mixtures of Experts with MergeKit",
        "Combine multiple models into a single MoE",
        (
            "Thanks to the release of Mixtral, the Mixture of Experts (MoE) architecture has become popular in "
            "recent months."
        ),
    ]


def test_substack_footer_and_readers_comments_go():
    assert clean_text(SUBSTACK_FOOTER) == "If not otherwise stated, all images are created by the author."


def test_medium_run_on_line_loses_header_byline_and_footer():
    cleaned = clean_text(MEDIUM_HEAD + MEDIUM_TAIL)
    assert chrome_markers(cleaned) == []
    assert cleaned.startswith("LLM Twin Course: Building Your Production-Ready AI ReplicaAn End-to-End Framework")
    assert "good practices.\n\n→ the 1st out of 12 lessons" in cleaned
    assert cleaned.endswith("Understanding the different Data Modality / Types (2023), Superlinked")
    for gone in ("Decoding MLOpen", "Paul Iusztin", "min read", "Followers", "To make Medium work", "$5/month"):
        assert gone not in cleaned


def test_the_glued_segments_are_cut_by_their_exact_shape():
    text, cut = strip_glued_chrome(MEDIUM_HEAD)
    assert not cut and text.startswith("LLM Twin Course") and "·Follow" not in text
    assert strip_glued_chrome("A normal paragraph about sharing what you follow.") == (
        "A normal paragraph about sharing what you follow.",
        False,
    )


def test_medium_chrome_on_its_own_lines_goes_too():
    page = "Member-only story\n\nPaul Iusztin · Follow\n\n7 min read\n\nListen\n\nShare\n\nThe first sentence of the story."
    assert clean_text(page) == "The first sentence of the story."


def test_linkedin_buttons_and_counters_go():
    post = "Shipping the feature pipeline today.\n\n...see more\n\nLike\n\nComment\n\nRepost\n\nSend\n\n12 reactions"
    assert clean_text(post) == "Shipping the feature pipeline today."


def test_a_blog_navigation_bar_and_copyright_footer_go():
    page = (
        "- __LLM Course\n- __Hands-On GNNs\n- __Research\n- __About\n\nThe article starts here.\n\n"
        "__Copyright 2023, Maxime Labonne"
    )
    assert clean_text(page) == "The article starts here."


@pytest.mark.parametrize(
    "sentence",
    [
        "that NousResearch benchmark suite shares some tasks with the Open LLM Leaderboard.",
        "If you're interested in more technical content around LLMs, follow me on Medium.",
        "Sign up for the free course and share it with a friend who wants to listen.",
        "Share your thoughts in the comments.",
    ],
)
def test_author_sentences_that_mention_chrome_words_stay(sentence):
    assert clean_text(f"First paragraph.\n\n{sentence}\n\nShare") == f"First paragraph.\n\n{sentence}"


def test_weak_paragraphs_stay_when_no_chrome_is_beside_them():
    text = "Step one of the list.\n\n1\n\nNote\n\nMar 27, 2024\n\nThe last paragraph."
    assert clean_text(text) == text
    # Next to chrome, the same paragraphs are chrome.
    assert clean_text("The text.\n\n14\n\nShare this post") == "The text."


def test_classify_tells_chrome_weak_and_the_authors_apart():
    assert classify("Open in app") is Chrome.CHROME
    assert classify("16 min read") is Chrome.CHROME
    assert classify("5.1K Followers") is Chrome.CHROME
    assert classify("Facebook") is Chrome.WEAK
    assert classify("2.1K") is Chrome.WEAK
    assert classify("decodingml.substack.com") is Chrome.WEAK
    assert classify("Paul Iusztin", following="Aug 17, 2024") is Chrome.WEAK
    assert classify("Paul Iusztin", following="He writes about MLOps.") is Chrome.KEEP
    assert classify("Share your thoughts in the comments.") is Chrome.KEEP


def test_code_is_never_touched():
    text = "Run it:\n\n```\nShare\nSign in\n14\n```"
    assert clean_text(text) == text


def test_cleaning_with_chrome_rules_is_idempotent():
    for page in (SUBSTACK_HEADER, SUBSTACK_FOOTER, MEDIUM_HEAD + MEDIUM_TAIL):
        once = clean_text(page)
        assert clean_text(once) == once


def _article(title: str, subtitle: str | None, content: str) -> ArticleDocument:
    return ArticleDocument(
        content={"Title": title, "Subtitle": subtitle, "Content": content, "language": "en"},
        platform="decodingml.substack.com",
        link="https://decodingml.substack.com/p/real-time-feature-pipelines-with",
        author_id=uuid.uuid4(),
        author_full_name="Paul Iusztin",
    )


def test_the_page_title_decoration_goes_and_a_repeated_description_is_kept_once():
    document = _article(
        "Real-time feature pipelines for RAG - by Paul Iusztin",
        "RAG hybrid search with transformers-based sparse vectors.",
        "#\n\nSubscribeSign in\n\n# Real-time feature pipelines for RAG\n\n"
        "### RAG hybrid search with transformers-based sparse vectors.\n\nPaul Iusztin\n\nAug 17, 2024\n\n14\n\n"
        "Share this post\n\nThe purpose of CDC is to capture insertions, updates, and deletions.",
    )
    cleaned = ArticleCleaningHandler().clean(document)
    assert cleaned.title == "Real-time feature pipelines for RAG"
    assert cleaned.content.split("\n\n") == [
        "Real-time feature pipelines for RAG",
        "RAG hybrid search with transformers-based sparse vectors.",
        "The purpose of CDC is to capture insertions, updates, and deletions.",
    ]


def test_a_truncated_meta_description_does_not_open_the_text():
    body = "Retrieval quality decides answer quality. Here are four techniques, with code, and what each one costs."
    document = _article(
        "The 4 advanced RAG algorithms", "Retrieval quality decides answer quality. Here are four...", body
    )
    assert ArticleCleaningHandler().clean(document).content == f"The 4 advanced RAG algorithms\n\n{body}"


def test_a_description_the_body_does_not_hold_stays():
    document = _article("Chunking", "How to split documents before embedding them.", "Chunks must fit the model.")
    assert ArticleCleaningHandler().clean(document).content == (
        "Chunking\n\nHow to split documents before embedding them.\n\nChunks must fit the model."
    )


def test_title_and_subtitle_glued_into_a_run_on_line_are_kept_once():
    document = _article(
        "An End-to-End Framework for Production-Ready LLM Systems by Building Your LLM Twin",
        "From data gathering to productionizing LLMs using LLMOps good practices.",
        MEDIUM_HEAD + MEDIUM_TAIL,
    )
    paragraphs = ArticleCleaningHandler().clean(document).content.split("\n\n")
    assert paragraphs[:3] == [
        "An End-to-End Framework for Production-Ready LLM Systems by Building Your LLM Twin",
        "LLM Twin Course: Building Your Production-Ready AI Replica",
        "From data gathering to productionizing LLMs using LLMOps good practices.",
    ]
    assert paragraphs[3].startswith("→ the 1st out of 12 lessons")
    assert sum(paragraph.count("From data gathering") for paragraph in paragraphs) == 1


def test_a_title_or_description_that_reads_like_chrome_stays():
    document = _article("Listen", "Share", "Why I stopped writing code reviews at night.")
    cleaned = ArticleCleaningHandler().clean(document)
    assert cleaned.title == "Listen"
    assert cleaned.content == "Listen\n\nShare\n\nWhy I stopped writing code reviews at night."
