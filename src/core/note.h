// C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures (type
// 0x01): a text ending in a newline, a blank line, and one line per
// signature: em dash, space, key name, space, base64(key ID || signature).
// Key IDs and verifier keys are those of the spec and of Go's sumdb/note
// ("name+hex(key ID)+base64(0x01 || public key)").
#pragma once

#include "ed25519.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qmdb {

// Caps on what a note from a peer may make us parse.
constexpr size_t MAX_NOTE_BYTES = 64 * 1024;
constexpr size_t MAX_NOTE_SIGNATURES = 100;

struct NoteSigner {
	std::string name;
	Ed25519Seed seed{};
};

struct NoteVerifier {
	std::string name;
	uint32_t key_id = 0;
	Ed25519Public key{};
};

// A key name: non-empty, at most 256 bytes, printable ASCII without space or '+'.
bool valid_key_name(const std::string &name);
// SHA-256(name || 0x0A || 0x01 || public key)[:4], big-endian.
uint32_t note_key_id(const std::string &name, const Ed25519Public &key);
NoteVerifier note_verifier(const NoteSigner &signer);
std::string verifier_key_text(const NoteVerifier &v);
// Throws Error(InvalidArgument) for anything but a well-formed Ed25519
// verifier key whose ID matches its name and key.
NoteVerifier parse_verifier_key(const std::string &text);

struct NoteSignature {
	std::string name;
	uint32_t key_id = 0;
	Bytes signature; // without the key ID
};

struct Note {
	std::string text; // including its final newline
	std::vector<NoteSignature> signatures;
};

// Throws Error(InvalidArgument) unless `text` can be a note's text: valid
// for the format (ends in a newline, no control character but newline,
// nothing but printable ASCII, newline, and UTF-8 above U+007F).
void check_note_text(const std::string &text);
// Throws Error(Decode) for a malformed note or one over the caps.
Note parse_note(const std::string &note);
std::string format_note(const Note &note);
// The note with a signature of each signer added (after those it has).
Note sign_note(Note note, const std::vector<NoteSigner> &signers);

// The verifiers (of `trusted`) whose signatures on `note` verify, each
// once. Signatures of unknown keys are ignored; a known key's signature
// that fails makes the whole note invalid (Error(InvalidProof)).
std::vector<NoteVerifier> verified_signers(const Note &note, const std::vector<NoteVerifier> &trusted);

} // namespace qmdb
