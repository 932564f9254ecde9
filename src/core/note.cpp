#include "note.h"

#include "base64.h"
#include "error.h"
#include "hash.h"

#include <algorithm>

#include "core_only.h" // last: fails if anything above pulled in PostgreSQL

namespace qmdb {

static const std::string EM_DASH = "\xE2\x80\x94"; // U+2014
constexpr uint8_t ED25519_TYPE = 0x01;

bool
valid_key_name(const std::string &name) {
	if (name.empty() || name.size() > 256)
		return false;
	for (char c : name)
		if (c <= ' ' || c > '~' || c == '+')
			return false;
	return true;
}

uint32_t
note_key_id(const std::string &name, const Ed25519Public &key) {
	Sha256 sha;
	uint8_t sep[2] = {0x0A, ED25519_TYPE};
	Digest d = sha.hash({ByteView(reinterpret_cast<const uint8_t *>(name.data()), name.size()), ByteView(sep, 2),
	                     ByteView(key.data(), key.size())});
	return (uint32_t(d[0]) << 24) | (uint32_t(d[1]) << 16) | (uint32_t(d[2]) << 8) | d[3];
}

NoteVerifier
note_verifier(const NoteSigner &signer) {
	if (!valid_key_name(signer.name))
		throw Error(ErrorCode::InvalidArgument, "invalid key name (printable ASCII, no space or '+')");
	NoteVerifier v;
	v.name = signer.name;
	v.key = ed25519_public(signer.seed);
	v.key_id = note_key_id(v.name, v.key);
	return v;
}

static std::string
hex8(uint32_t id) {
	static const char *digits = "0123456789abcdef";
	std::string s(8, '0');
	for (int i = 7; i >= 0; i--, id >>= 4)
		s[static_cast<size_t>(i)] = digits[id & 15];
	return s;
}

std::string
verifier_key_text(const NoteVerifier &v) {
	Bytes typed{ED25519_TYPE};
	typed.insert(typed.end(), v.key.begin(), v.key.end());
	return v.name + "+" + hex8(v.key_id) + "+" + base64_encode(typed);
}

NoteVerifier
parse_verifier_key(const std::string &text) {
	auto bad = [&](const char *why) {
		return Error(ErrorCode::InvalidArgument, std::string("invalid verifier key: ") + why);
	};
	// name+id+key: the name has no '+', the base64 may.
	size_t a = text.find('+');
	if (a == std::string::npos || text.size() - a < 10 || text[a + 9] != '+')
		throw bad("expected name+hex(key ID)+base64(key)");
	NoteVerifier v;
	v.name = text.substr(0, a);
	if (!valid_key_name(v.name))
		throw bad("the key name must be printable ASCII without space or '+'");
	std::string hex = text.substr(a + 1, 8);
	uint32_t id = 0;
	for (char c : hex) {
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (d < 0)
			throw bad("the key ID must be 8 lower-case hex digits");
		id = (id << 4) | uint32_t(d);
	}
	auto key = base64_decode(text.substr(a + 10));
	if (!key || key->size() != 33)
		throw bad("the key must be base64 of 33 bytes");
	if ((*key)[0] != ED25519_TYPE)
		throw bad("only Ed25519 keys (type 0x01) are supported");
	std::copy(key->begin() + 1, key->end(), v.key.begin());
	v.key_id = note_key_id(v.name, v.key);
	if (v.key_id != id)
		throw bad("the key ID does not match the name and key");
	return v;
}

void
check_note_text(const std::string &text) {
	if (text.empty() || text.back() != '\n')
		throw Error(ErrorCode::InvalidArgument, "a note's text must end in a newline");
	if (text.size() > MAX_NOTE_BYTES)
		throw Error(ErrorCode::InvalidArgument,
		            "a note's text is at most " + std::to_string(MAX_NOTE_BYTES) + " bytes");
	for (unsigned char c : text)
		if (c < 0x20 && c != '\n')
			throw Error(ErrorCode::InvalidArgument, "a note's text must not hold control characters");
	if (text.find(EM_DASH) == 0)
		throw Error(ErrorCode::InvalidArgument, "a note's text must not start like a signature line");
}

Note
parse_note(const std::string &note) {
	auto bad = [](const std::string &why) { return DecodeError(DecodeErrorKind::Invalid, "signed note: " + why); };
	if (note.size() > MAX_NOTE_BYTES + MAX_NOTE_SIGNATURES * 400)
		throw DecodeError(DecodeErrorKind::InvalidLength, "signed note: too large");
	for (unsigned char c : note)
		if (c < 0x20 && c != '\n')
			throw bad("control character");
	// The text ends at the last blank line.
	size_t split = note.rfind("\n\n");
	if (split == std::string::npos || note.empty() || note.back() != '\n')
		throw bad("no blank line before the signatures, or no final newline");
	Note n;
	n.text = note.substr(0, split + 1);
	size_t at = split + 2;
	while (at < note.size()) {
		size_t end = note.find('\n', at);
		std::string line = note.substr(at, end - at);
		at = end + 1;
		if (n.signatures.size() == MAX_NOTE_SIGNATURES)
			throw DecodeError(DecodeErrorKind::InvalidLength,
			                  "signed note: more than " + std::to_string(MAX_NOTE_SIGNATURES) + " signatures");
		if (line.compare(0, EM_DASH.size() + 1, EM_DASH + " ") != 0)
			throw bad("a signature line must start with an em dash and a space");
		std::string rest = line.substr(EM_DASH.size() + 1);
		size_t space = rest.find(' ');
		if (space == std::string::npos || space == 0 || rest.find(' ', space + 1) != std::string::npos)
			throw bad("a signature line is: em dash, space, key name, space, base64");
		auto blob = base64_decode(rest.substr(space + 1));
		if (!blob || blob->size() < 5)
			throw bad("a signature is base64 of a key ID and a signature");
		NoteSignature s;
		s.name = rest.substr(0, space);
		s.key_id =
		    (uint32_t((*blob)[0]) << 24) | (uint32_t((*blob)[1]) << 16) | (uint32_t((*blob)[2]) << 8) | (*blob)[3];
		s.signature.assign(blob->begin() + 4, blob->end());
		n.signatures.push_back(std::move(s));
	}
	if (n.signatures.empty())
		throw bad("no signature");
	return n;
}

std::string
format_note(const Note &note) {
	std::string out = note.text + "\n";
	for (const NoteSignature &s : note.signatures) {
		Bytes blob{uint8_t(s.key_id >> 24), uint8_t(s.key_id >> 16), uint8_t(s.key_id >> 8), uint8_t(s.key_id)};
		blob.insert(blob.end(), s.signature.begin(), s.signature.end());
		out += EM_DASH + " " + s.name + " " + base64_encode(blob) + "\n";
	}
	return out;
}

Note
sign_note(Note note, const std::vector<NoteSigner> &signers) {
	check_note_text(note.text);
	ByteView text(reinterpret_cast<const uint8_t *>(note.text.data()), note.text.size());
	for (const NoteSigner &s : signers) {
		NoteVerifier v = note_verifier(s);
		Ed25519Signature sig = ed25519_sign(s.seed, text);
		note.signatures.push_back({v.name, v.key_id, Bytes(sig.begin(), sig.end())});
	}
	if (note.signatures.size() > MAX_NOTE_SIGNATURES)
		throw Error(ErrorCode::LimitExceeded,
		            "a note has at most " + std::to_string(MAX_NOTE_SIGNATURES) + " signatures");
	return note;
}

std::vector<NoteVerifier>
verified_signers(const Note &note, const std::vector<NoteVerifier> &trusted) {
	ByteView text(reinterpret_cast<const uint8_t *>(note.text.data()), note.text.size());
	std::vector<NoteVerifier> out;
	for (const NoteSignature &s : note.signatures) {
		auto known = std::find_if(trusted.begin(), trusted.end(),
		                          [&](const NoteVerifier &v) { return v.name == s.name && v.key_id == s.key_id; });
		if (known == trusted.end())
			continue; // an unknown key: ignored, as the spec says
		Ed25519Signature sig{};
		if (s.signature.size() != sig.size())
			throw Error(ErrorCode::InvalidProof, "the signature of " + s.name + " is not 64 bytes");
		std::copy(s.signature.begin(), s.signature.end(), sig.begin());
		if (!ed25519_verify(known->key, text, sig))
			throw Error(ErrorCode::InvalidProof, "the signature of " + s.name + " does not verify");
		bool seen = std::any_of(out.begin(), out.end(),
		                        [&](const NoteVerifier &v) { return v.name == s.name && v.key_id == s.key_id; });
		if (!seen)
			out.push_back(*known);
	}
	return out;
}

} // namespace qmdb
