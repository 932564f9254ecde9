// Signed notes, verifier keys and checkpoints against an independent
// implementation's published vector (Go's golang.org/x/mod/sumdb/note
// example: Ed25519 is deterministic, so our note must be its bytes).
#include "core/base64.h"
#include "core/checkpoint.h"
#include "core/error.h"
#include "core/note.h"

#include <gtest/gtest.h>

using namespace qmdb;

namespace {

const std::string GO_TEXT = "If you think cryptography is the answer to your problem,\n"
                            "then you don't know what your problem is.\n";
const std::string GO_VERIFIER = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const std::string GO_NOTE =
    GO_TEXT + "\n\xE2\x80\x94 PeterNeumann "
              "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

NoteSigner
go_signer() {
	// The private half of GO_VERIFIER: base64(0x01 || seed), from Go's
	// "PRIVATE+KEY+PeterNeumann+c74f20a3+..." signer key.
	Bytes typed = *base64_decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz");
	NoteSigner s;
	s.name = "PeterNeumann";
	std::copy(typed.begin() + 1, typed.end(), s.seed.begin());
	return s;
}

} // namespace

TEST(Note, ReproducesGosExampleByteForByte) {
	NoteSigner s = go_signer();
	EXPECT_EQ(verifier_key_text(note_verifier(s)), GO_VERIFIER);
	Note n;
	n.text = GO_TEXT;
	EXPECT_EQ(format_note(sign_note(n, {s})), GO_NOTE);
}

TEST(Note, VerifiesGosExampleAndRejectsATamperedOne) {
	NoteVerifier v = parse_verifier_key(GO_VERIFIER);
	EXPECT_EQ(v.key_id, 0xc74f20a3u);
	Note n = parse_note(GO_NOTE);
	EXPECT_EQ(n.text, GO_TEXT);
	ASSERT_EQ(verified_signers(n, {v}).size(), 1u);
	std::string tampered = GO_NOTE;
	tampered.replace(tampered.find("cryptography"), 12, "cryptographY");
	EXPECT_THROW(verified_signers(parse_note(tampered), {v}), Error);
	// A key that shares the name but not the ID is unknown: ignored.
	NoteVerifier other = note_verifier(NoteSigner{"PeterNeumann", ed25519_generate()});
	EXPECT_TRUE(verified_signers(n, {other}).empty());
}

TEST(Note, VerifierKeyManglingsAreRefused) {
	for (size_t i = 0; i < GO_VERIFIER.size(); i++) {
		std::string k = GO_VERIFIER;
		k[i] = k[i] == 'A' ? 'B' : 'A';
		EXPECT_THROW(parse_verifier_key(k), Error) << k;
		EXPECT_THROW(parse_verifier_key(GO_VERIFIER.substr(0, i)), Error) << i;
	}
	EXPECT_THROW(parse_verifier_key("bad name+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"), Error);
}

TEST(Note, MalformedNotesAreDecodeErrors) {
	for (const std::string &bad :
	     {std::string(""), GO_TEXT, GO_TEXT + "\n", GO_TEXT + "\n- PeterNeumann AAAA\n",
	      GO_TEXT + "\n\xE2\x80\x94 PeterNeumann not-base64\n", GO_TEXT + "\n\xE2\x80\x94 PeterNeumann AAAA\n",
	      GO_TEXT + "\n\xE2\x80\x94 PeterNeumann x08go/ZJ\x01\n", GO_NOTE.substr(0, GO_NOTE.size() - 1)})
		EXPECT_THROW(parse_note(bad), DecodeError) << bad;
	std::string many = GO_TEXT + "\n";
	for (int i = 0; i <= 100; i++)
		many += "\xE2\x80\x94 k" + std::to_string(i) + " AAAAAAAA\n";
	EXPECT_THROW(parse_note(many), DecodeError);
}

TEST(Note, EachTrustedKeyCountsOnce) {
	NoteSigner a{"a.example/1", ed25519_generate()}, b{"b.example/2", ed25519_generate()},
	    c{"c.example/3", ed25519_generate()};
	Note n;
	n.text = "hello\n";
	n = sign_note(n, {a, b, c, a});
	Note parsed = parse_note(format_note(n));
	EXPECT_EQ(parsed.signatures.size(), 4u);
	EXPECT_EQ(verified_signers(parsed, {note_verifier(a), note_verifier(b)}).size(), 2u);
	EXPECT_EQ(verified_signers(parsed, {}).size(), 0u);
}

TEST(Base64, IsStrict) {
	EXPECT_EQ(base64_encode(Bytes{}), "");
	EXPECT_EQ(base64_encode(Bytes{'f', 'o', 'o', 'b'}), "Zm9vYg==");
	EXPECT_EQ(*base64_decode("Zm9vYg=="), (Bytes{'f', 'o', 'o', 'b'}));
	for (const char *bad : {"Zm9vYh==", "Zm9vYg=", "Zm9v Yg==", "Zm9vYg=a", "=m9v", "Zm9vYg==Zm9v"})
		EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
}

// A hand-made checkpoint: its text, byte for byte.
TEST(Checkpoint, TextIsTheTlogCheckpointShape) {
	Checkpoint c;
	c.origin = "example.org/qmdb/accounts";
	for (uint8_t i = 0; i < 32; i++)
		c.target.root[i] = i;
	c.target.start = 3;
	c.target.end = 10;
	std::string text = checkpoint_text(c);
	EXPECT_EQ(text, "example.org/qmdb/accounts\n10\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\nrange_start 3\n");
	Checkpoint back = parse_checkpoint_text(text);
	EXPECT_EQ(back.origin, c.origin);
	EXPECT_EQ(back.target, c.target);
	for (const std::string &bad :
	     {std::string("o\n10\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n"),
	      std::string("o\n010\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\nrange_start 3\n"),
	      std::string("o\n10\nAAEC\nrange_start 3\n"),
	      std::string("o\n10\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\nrange_start 10\n"),
	      std::string("o\n10\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\nrange_start 3\nx\n")})
		EXPECT_THROW(parse_checkpoint_text(bad), DecodeError) << bad;
}

TEST(Checkpoint, OrderFindsSplitViews) {
	Checkpoint a, b;
	a.origin = b.origin = "o";
	a.target = {Digest{1}, 0, 10};
	b.target = {Digest{2}, 0, 10};
	EXPECT_EQ(order_checkpoints(a, a), CheckpointOrder::Same);
	EXPECT_EQ(order_checkpoints(a, b), CheckpointOrder::SplitView);
	b.target.end = 11;
	EXPECT_EQ(order_checkpoints(a, b), CheckpointOrder::Newer);
	EXPECT_EQ(order_checkpoints(b, a), CheckpointOrder::Older);
}

// The bad notes a follower must refuse, each with a clear reason.
TEST(Checkpoint, BadNotesAreRefused) {
	NoteSigner s = go_signer();
	Checkpoint c;
	c.origin = "example.org/qmdb/d";
	c.target = {Digest{7}, 2, 9};
	Note good;
	good.text = checkpoint_text(c);
	std::string note = format_note(sign_note(good, {s}));
	// An extra blank line inside the text: a note, but not a checkpoint.
	std::string blank = note;
	blank.insert(blank.find("\nrange_start"), "\n");
	EXPECT_THROW(parse_checkpoint_text(parse_note(blank).text), DecodeError);
	// A hyphen for the em dash.
	std::string dash = note;
	dash.replace(dash.find("\xE2\x80\x94"), 3, "-");
	EXPECT_THROW(parse_note(dash), DecodeError);
	// An over-long origin line, and a note over the size cap.
	Checkpoint longer = c;
	longer.origin = std::string(300, 'o');
	EXPECT_THROW(checkpoint_text(longer), Error);
	EXPECT_THROW(parse_checkpoint_text(longer.origin + "\n9\n" + base64_encode(Digest{7}) + "\nrange_start 2\n"),
	             DecodeError);
	EXPECT_THROW(parse_note(std::string(MAX_NOTE_BYTES + MAX_NOTE_SIGNATURES * 400 + 1, 'x')), DecodeError);
	// A non-canonical size, and the signature no longer matching a changed text.
	std::string size = note;
	size.replace(size.find("\n9\n"), 3, "\n09\n");
	EXPECT_THROW(parse_checkpoint_text(parse_note(size).text), DecodeError);
	EXPECT_THROW(verified_signers(parse_note(size), {note_verifier(s)}), Error);
	// The good one, for contrast.
	EXPECT_EQ(verified_signers(parse_note(note), {note_verifier(s)}).size(), 1u);
	EXPECT_EQ(parse_checkpoint_text(parse_note(note).text).target, c.target);
}
