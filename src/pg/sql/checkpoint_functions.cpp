// Signed checkpoints (c2sp.org/signed-note + tlog-checkpoint): signing keys
// of a source database, signing and cosigning its target, serving the
// newest checkpoint to peers, and checking one under a trust policy.
//
// Private keys live in qmdb.signing_keys, which no role may read (no grant,
// not in pg_dump: not a configuration table of the extension); only these
// functions use them, for members of the role that made each key. None of
// them returns, logs or quotes a private key.
#include "../datum.h"
#include "../spi.h"
#include "../store/table_db.h"

#include "core/checkpoint.h"
#include "core/mmr.h"

extern "C" {
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
}

#include <algorithm>
#include <cstring>

using namespace qmdb;
using namespace qmdb::pg;

namespace {

Datum
text_result(const std::string &s) {
	return PointerGetDatum(cstring_to_text_with_len(s.data(), static_cast<int>(s.size())));
}

std::string
caller_name() {
	const char *name = pg_call([] { return GetUserNameFromId(GetOuterUserId(), false); });
	return name;
}

bool
caller_acts_for(const std::string &owner) {
	return pg_call([&] {
		Oid role = get_role_oid(owner.c_str(), true);
		return superuser_arg(GetOuterUserId()) || (OidIsValid(role) && has_privs_of_role(GetOuterUserId(), role));
	});
}

std::string
checked_key_name(FunctionCallInfo fcinfo, int n) {
	std::string name = text_arg(fcinfo, n, "name");
	if (!valid_key_name(name))
		throw Error(ErrorCode::InvalidArgument,
		            "a key name has 1 to 256 printable ASCII characters, no space or '+' (e.g. example.org/qmdb/key1)");
	return name;
}

// Store a new key of `db`; its verifier key is the result. The seed is
// wiped from this copy once stored.
std::string
keep_key(const std::string &db, NoteSigner signer) {
	NoteVerifier v = note_verifier(signer);
	{
		Spi spi;
		TableDatabase d(spi, db, false);
		if (spi.exec("SELECT 1 FROM qmdb.signing_keys WHERE db_id = $1 AND name = $2",
		             {int4_param(d.info().id), text_param(signer.name)}) != 0)
			throw Error(ErrorCode::AlreadyExists,
			            "database \"" + db + "\" has a signing key named \"" + signer.name + "\"");
		spi.exec(
		    "INSERT INTO qmdb.signing_keys (db_id, name, private_key, public_key, owner) VALUES ($1, $2, $3, $4, $5)",
		    {int4_param(d.info().id), text_param(signer.name),
		     bytea_param(Bytes(signer.seed.begin(), signer.seed.end())), bytea_param(Bytes(v.key.begin(), v.key.end())),
		     text_param(caller_name())});
	}
	std::fill(signer.seed.begin(), signer.seed.end(), 0);
	return verifier_key_text(v);
}

// The keys of `db` the caller may sign with: all it acts for, or those named.
std::vector<NoteSigner>
usable_keys(Spi &spi, int32 db_id, const std::string &db, const std::vector<std::string> &names) {
	uint64 n = spi.exec("SELECT name, private_key, owner::text FROM qmdb.signing_keys WHERE db_id = $1 ORDER BY name",
	                    {int4_param(db_id)});
	std::vector<NoteSigner> out;
	std::vector<std::string> found;
	for (uint64 i = 0; i < n; i++) {
		std::string name = spi.str(i, 0);
		bool named = std::find(names.begin(), names.end(), name) != names.end();
		if (!names.empty() && !named)
			continue;
		if (!caller_acts_for(spi.str(i, 2))) {
			if (named)
				throw Error(ErrorCode::PermissionDenied,
				            "signing key \"" + name + "\" of \"" + db + "\" belongs to role \"" + spi.str(i, 2) + "\"");
			continue;
		}
		Bytes seed = spi.bytes(i, 1);
		if (seed.size() != 32)
			throw Error(ErrorCode::DataCorrupted, "a stored signing key is not 32 bytes");
		NoteSigner s;
		s.name = name;
		std::copy(seed.begin(), seed.end(), s.seed.begin());
		std::fill(seed.begin(), seed.end(), 0);
		out.push_back(s);
		found.push_back(name);
	}
	for (const auto &want : names)
		if (std::find(found.begin(), found.end(), want) == found.end())
			throw Error(ErrorCode::NotFound, "database \"" + db + "\" has no signing key named \"" + want + "\"");
	if (out.empty())
		throw Error(ErrorCode::NotFound,
		            "database \"" + db + "\" has no signing key of yours (qmdb.create_signing_key)");
	return out;
}

// The root of `db` at size n (a commit boundary it holds).
Digest
root_at(TableDatabase &d, uint64_t n) {
	Mmr mmr(d.nodes(), n);
	return mmr.root(d.hasher(), inactive_peaks(n, d.floor_at(n)));
}

// Keep `note` as the database's newest checkpoint if it is at least as new.
void
keep_newest(Spi &spi, int32 db_id, const Checkpoint &c, const std::string &note) {
	spi.exec("INSERT INTO qmdb.checkpoints AS k (db_id, origin, size, note) VALUES ($1, $2, $3, $4) "
	         "ON CONFLICT (db_id) DO UPDATE SET origin = EXCLUDED.origin, size = EXCLUDED.size, note = EXCLUDED.note, "
	         "signed_at = now() WHERE k.size <= EXCLUDED.size",
	         {int4_param(db_id), text_param(c.origin), int8_param(static_cast<int64>(c.target.end)), text_param(note)});
}

} // namespace

// qmdb.create_signing_key(db, name) -> verifier key
QMDB_FUNCTION(qmdb_create_signing_key) {
	std::string db = text_arg(fcinfo, 0, "db");
	std::string name = checked_key_name(fcinfo, 1);
	return text_result(keep_key(db, NoteSigner{name, ed25519_generate()}));
}

// qmdb.import_signing_key(db, name, private_key) -> verifier key: a key
// made elsewhere (32-byte Ed25519 seed), e.g. to move a signer.
QMDB_FUNCTION(qmdb_import_signing_key) {
	std::string db = text_arg(fcinfo, 0, "db");
	std::string name = checked_key_name(fcinfo, 1);
	auto seed = opt_bytes_arg(fcinfo, 2);
	if (!seed || seed->size() != 32)
		throw Error(ErrorCode::InvalidArgument, "private_key must be the 32-byte Ed25519 seed");
	NoteSigner s;
	s.name = name;
	std::copy(seed->begin(), seed->end(), s.seed.begin());
	std::fill(seed->begin(), seed->end(), 0);
	return text_result(keep_key(db, s));
}

// qmdb.verifier_key(db, name) -> name+hex(key ID)+base64(0x01 || public key)
QMDB_FUNCTION(qmdb_verifier_key) {
	std::string db = text_arg(fcinfo, 0, "db");
	std::string name = text_arg(fcinfo, 1, "name");
	NoteVerifier v;
	{
		Spi spi(true);
		TableDatabase d(spi, db, false, TableDatabase::Access::Any);
		if (spi.exec("SELECT public_key FROM qmdb.signing_keys WHERE db_id = $1 AND name = $2",
		             {int4_param(d.info().id), text_param(name)}) == 0)
			throw Error(ErrorCode::NotFound, "database \"" + db + "\" has no signing key named \"" + name + "\"");
		Bytes pub = spi.bytes(0, 0);
		if (pub.size() != 32)
			throw Error(ErrorCode::DataCorrupted, "a stored public key is not 32 bytes");
		v.name = name;
		std::copy(pub.begin(), pub.end(), v.key.begin());
		v.key_id = note_key_id(name, v.key);
	}
	return text_result(verifier_key_text(v));
}

// qmdb.drop_signing_key(db, name): by its owner (or a member, or a superuser).
QMDB_FUNCTION(qmdb_drop_signing_key) {
	std::string db = text_arg(fcinfo, 0, "db");
	std::string name = text_arg(fcinfo, 1, "name");
	Spi spi;
	TableDatabase d(spi, db, false, TableDatabase::Access::Any);
	if (spi.exec("SELECT owner::text FROM qmdb.signing_keys WHERE db_id = $1 AND name = $2 FOR UPDATE",
	             {int4_param(d.info().id), text_param(name)}) == 0)
		throw Error(ErrorCode::NotFound, "database \"" + db + "\" has no signing key named \"" + name + "\"");
	if (!caller_acts_for(spi.str(0, 0)))
		throw Error(ErrorCode::PermissionDenied,
		            "signing key \"" + name + "\" belongs to role \"" + spi.str(0, 0) + "\"");
	spi.exec("DELETE FROM qmdb.signing_keys WHERE db_id = $1 AND name = $2",
	         {int4_param(d.info().id), text_param(name)});
	PG_RETURN_VOID();
}

// qmdb.sign_checkpoint(db, origin, keys) -> the signed note of the
// database's current target, kept as its newest checkpoint.
QMDB_FUNCTION(qmdb_sign_checkpoint) {
	std::string db = text_arg(fcinfo, 0, "db");
	std::optional<std::string> origin;
	if (!PG_ARGISNULL(1))
		origin = text_arg(fcinfo, 1, "origin");
	std::vector<std::string> names;
	if (!PG_ARGISNULL(2))
		names = text_array_arg(fcinfo, 2, "keys");
	std::string note;
	{
		Spi spi;
		TableDatabase d(spi, db, false);
		if (!origin) {
			if (spi.exec("SELECT origin FROM qmdb.checkpoints WHERE db_id = $1", {int4_param(d.info().id)}) == 0)
				throw Error(ErrorCode::InvalidArgument, "give the checkpoint's origin (e.g. example.org/qmdb/" + db +
				                                            ") the first time; later checkpoints keep it");
			origin = spi.str(0, 0);
		}
		Checkpoint c;
		c.origin = *origin;
		c.target = {d.info().root, d.info().floor, d.info().size};
		Note n;
		n.text = checkpoint_text(c);
		n = sign_note(n, usable_keys(spi, d.info().id, db, names));
		note = format_note(n);
		keep_newest(spi, d.info().id, c, note);
	}
	return text_result(note);
}

// qmdb.cosign_checkpoint(db, note, keys) -> the note with the caller's
// signatures added: only if this database holds the checkpoint's size with
// the same root (a witness vouches for what it has itself).
QMDB_FUNCTION(qmdb_cosign_checkpoint) {
	std::string db = text_arg(fcinfo, 0, "db");
	std::string text = text_arg(fcinfo, 1, "note");
	std::vector<std::string> names;
	if (!PG_ARGISNULL(2))
		names = text_array_arg(fcinfo, 2, "keys");
	Note n = parse_note(text);
	Checkpoint c = parse_checkpoint_text(n.text);
	std::string note;
	{
		Spi spi;
		TableDatabase d(spi, db, false);
		if (c.target.end > d.info().size)
			throw Error(ErrorCode::NotReady, "database \"" + db + "\" holds " + std::to_string(d.info().size) +
			                                     " operations: it cannot vouch for a checkpoint of " +
			                                     std::to_string(c.target.end));
		if (root_at(d, c.target.end) != c.target.root)
			throw Error(ErrorCode::InvalidProof, "the checkpoint's root is not this database's root at size " +
			                                         std::to_string(c.target.end) + ": it is another history");
		n = sign_note(n, usable_keys(spi, d.info().id, db, names));
		note = format_note(n);
	}
	return text_result(note);
}

// qmdb.checkpoint(db) -> the newest checkpoint signed here (for peers).
QMDB_FUNCTION(qmdb_checkpoint) {
	std::string db = text_arg(fcinfo, 0, "db");
	std::string note;
	{
		Spi spi(true);
		TableDatabase d(spi, db, false, TableDatabase::Access::Any);
		if (spi.exec("SELECT note FROM qmdb.checkpoints WHERE db_id = $1", {int4_param(d.info().id)}) == 0)
			PG_RETURN_NULL();
		note = spi.str(0, 0);
	}
	return text_result(note);
}

// qmdb.verify_checkpoint(note, keys, threshold) -> (origin, root,
// range_start, range_end, signers): the checkpoint, if at least `threshold`
// distinct keys of `keys` (verifier keys) signed it.
QMDB_FUNCTION(qmdb_verify_checkpoint) {
	std::string text = text_arg(fcinfo, 0, "note");
	std::vector<std::string> keys = text_array_arg(fcinfo, 1, "keys");
	if (PG_ARGISNULL(2))
		throw Error(ErrorCode::NullValue, "threshold must not be NULL");
	int32 threshold = PG_GETARG_INT32(2);
	if (threshold < 1 || static_cast<size_t>(threshold) > keys.size())
		throw Error(ErrorCode::InvalidArgument, "threshold must be between 1 and the number of keys");
	std::vector<NoteVerifier> trusted;
	for (const auto &k : keys)
		trusted.push_back(parse_verifier_key(k));
	Note n = parse_note(text);
	size_t signers = verified_signers(n, trusted).size();
	if (signers < static_cast<size_t>(threshold))
		throw Error(ErrorCode::InvalidProof, std::to_string(signers) + " of the trusted keys signed the checkpoint; " +
		                                         std::to_string(threshold) + " are required");
	Checkpoint c = parse_checkpoint_text(n.text);
	Datum v[5] = {text_result(c.origin), PointerGetDatum(to_bytea(c.target.root)),
	              Int64GetDatum(static_cast<int64>(c.target.start)), Int64GetDatum(static_cast<int64>(c.target.end)),
	              Int32GetDatum(static_cast<int32>(signers))};
	bool nulls[5] = {};
	return tuple_datum(fcinfo, v, nulls);
}
