#include "core/peer_text.h"

#include <gtest/gtest.h>

using namespace qmdb;

TEST(PeerText, KeepsValidUtf8AndEscapesTheRest) {
	EXPECT_EQ(printable_peer_text("ERROR:  relation \"x\" does not exist\n"), "ERROR:  relation \"x\" does not exist");
	EXPECT_EQ(printable_peer_text("caf\xc3\xa9 \xe2\x82\xac"), "caf\xc3\xa9 \xe2\x82\xac");
	// A lone continuation byte, a truncated sequence, an overlong '/', a surrogate, NUL and ESC.
	EXPECT_EQ(printable_peer_text(std::string("a\x80"
	                                          "b\xc3"
	                                          "c\xc0\xaf"
	                                          "d\xed\xa0\x80"
	                                          "e\0f\x1b",
	                                          15)),
	          "a\\x80b\\xc3c\\xc0\\xafd\\xed\\xa0\\x80e\\x00f\\x1b");
	EXPECT_EQ(printable_peer_text("line one\nline two\ttab"), "line one line two tab");
}

TEST(PeerText, AsciiOnlyEscapesEveryHighByte) {
	EXPECT_EQ(printable_peer_text("caf\xc3\xa9", 100, true), "caf\\xc3\\xa9");
}

TEST(PeerText, CapsOnACharacterBoundary) {
	std::string big(9000, 'x');
	std::string out = printable_peer_text(big);
	EXPECT_EQ(out.size(), PEER_TEXT_MAX);
	EXPECT_EQ(out.substr(out.size() - 3), "...");
	// Euro signs (3 bytes each) cut at 10 bytes: two of them and the dots.
	std::string euros;
	for (int i = 0; i < 10; i++)
		euros += "\xe2\x82\xac";
	EXPECT_EQ(printable_peer_text(euros, 10), "\xe2\x82\xac\xe2\x82\xac...");
	EXPECT_EQ(printable_peer_text("abcdef", 2), "..");
	EXPECT_EQ(printable_peer_text("abc", 3), "abc");
}

TEST(PeerText, Utf8CharLength) {
	EXPECT_EQ(utf8_char_length("a"), 1u);
	EXPECT_EQ(utf8_char_length("\xc3\xa9"), 2u);
	EXPECT_EQ(utf8_char_length("\xf0\x9f\x98\x80"), 4u);
	EXPECT_EQ(utf8_char_length("\xf4\x90\x80\x80"), 0u); // above U+10FFFF
	EXPECT_EQ(utf8_char_length("\xf0\x8f\xbf\xbf"), 0u); // overlong
	EXPECT_EQ(utf8_char_length(""), 0u);
}
