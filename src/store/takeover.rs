//! Taking over a PostgreSQL database that Meet's Django backend created and filled, without a data
//! migration. [`detect`] recognises such a database by its `django_migrations` table; [`check`]
//! refuses one that Django migrated with a migration meet does not know (or not far enough);
//! [`apply`] then runs each pending meet migration additively: what Django already made (tables,
//! columns, indexes under Django's own names) is kept as it is, only what is missing is added.
//! Nothing is dropped and no row is written, so Django can be started again on the same database.
//!
//! Besides what the steps declare, two kinds of change are made to Django's objects, both invisible
//! to Django: a column default where meet's schema declares one (Django always writes the value
//! itself), and `ON DELETE CASCADE` on the foreign keys whose model says `on_delete=CASCADE`
//! (Django deletes the dependent rows itself before the parent; meet leaves it to the database).

use super::exec::{execute_script, Backend, Db, Tx, Q};
use super::StoreError;

/// The migrations of every Django application of Meet, up to upstream `e5f0b1c2`.
const KNOWN: &[(&str, &[&str])] = &[
    ("contenttypes", &["0001_initial", "0002_remove_content_type_name"]),
    (
        "auth",
        &[
            "0001_initial",
            "0002_alter_permission_name_max_length",
            "0003_alter_user_email_max_length",
            "0004_alter_user_username_opts",
            "0005_alter_user_last_login_null",
            "0006_require_contenttypes_0002",
            "0007_alter_validators_add_error_messages",
            "0008_alter_user_username_max_length",
            "0009_alter_user_last_name_max_length",
            "0010_alter_group_name_max_length",
            "0011_update_proxy_permissions",
            "0012_alter_user_first_name_max_length",
        ],
    ),
    ("admin", &["0001_initial", "0002_logentry_remove_auto_add", "0003_logentry_add_action_flag_choices"]),
    ("sessions", &["0001_initial"]),
    ("sites", &["0001_initial", "0002_alter_domain_unique"]),
    ("easy_thumbnails", &["0001_initial", "0002_thumbnaildimensions"]),
    (
        "core",
        &[
            "0001_initial",
            "0002_create_pg_trgm_extension",
            "0003_alter_room_configuration",
            "0004_alter_user_language",
            "0005_recording_recordingaccess_and_more",
            "0006_merge_duplicate_users",
            "0007_recording_mode",
            "0008_user_full_name_user_short_name",
            "0009_alter_recording_status",
            "0010_alter_resourceaccess_options_alter_user_options",
            "0011_remove_resource_is_public_room_access_level",
            "0012_alter_room_access_level",
            "0013_alter_user_language",
            "0014_room_pin_code",
            "0015_application_and_more",
            "0016_recording_options",
            "0017_file",
            "0018_rename_active_application_is_active",
            "0019_user_unique_email_when_sub_is_null",
            "0020_alter_file_upload_state",
            "0021_recording_external_process_id_alter_recording_status",
            "0022_user_default_room_access_level_and_more",
        ],
    ),
];

/// The oldest schema meet takes over: the reference version of Meet (upstream `41c1f41e`).
const MINIMUM: (&str, &str) = ("core", "0012_alter_room_access_level");

/// Foreign keys `(table, column, referenced table)` whose Django model deletes in cascade.
const CASCADES: &[(&str, &str, &str)] = &[
    ("meet_room", "resource_id", "meet_resource"),
    ("meet_resource_access", "resource_id", "meet_resource"),
    ("meet_resource_access", "user_id", "meet_user"),
    ("meet_recording", "room_id", "meet_room"),
    ("meet_recording_access", "recording_id", "meet_recording"),
    ("meet_recording_access", "user_id", "meet_user"),
    ("meet_application_domain", "application_id", "meet_application"),
    ("meet_user_groups", "user_id", "meet_user"),
    ("meet_user_user_permissions", "user_id", "meet_user"),
    ("django_admin_log", "user_id", "meet_user"),
];

/// Defaults of Django model fields stored `NOT NULL` without a database default, for the columns
/// meet's own statements may leave out of an `INSERT`: the value Django's model would write.
const DJANGO_DEFAULTS: &[(&str, &str, &str)] = &[("meet_recording", "options", "'{}'::jsonb")];

#[derive(sqlx::FromRow)]
struct Count {
    n: i64,
}

#[derive(sqlx::FromRow)]
struct Applied {
    app: String,
    name: String,
}

/// True when Django's migrations made this database (PostgreSQL only: Meet's Django backend
/// runs on nothing else).
pub(super) async fn detect(db: &Db) -> Result<bool, StoreError> {
    if db.backend() != Backend::Postgres {
        return Ok(false);
    }
    let c: Count = Q::new(
        "SELECT count(*) AS n FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_name = 'django_migrations'",
    )
    .fetch_one(db)
    .await?;
    Ok(c.n > 0)
}

/// Refuses a Django database whose schema meet does not know: a migration applied by a newer
/// Meet (named in the message), or one older than the reference version.
pub(super) async fn check(db: &Db) -> Result<(), StoreError> {
    let applied: Vec<Applied> = Q::new("SELECT app, name FROM django_migrations ORDER BY id").fetch_all(db).await?;
    let unknown: Vec<String> = applied
        .iter()
        .filter(|m| !KNOWN.iter().any(|(app, names)| *app == m.app && names.contains(&m.name.as_str())))
        .map(|m| format!("{}.{}", m.app, m.name))
        .collect();
    if !unknown.is_empty() {
        return Err(StoreError::Schema(format!(
            "this database was migrated by Meet's Django backend with {}, which meet does not know \
             (meet takes over Meet's schema up to upstream e5f0b1c2, core.0022_user_default_room_access_level_and_more); \
             nothing was changed",
            unknown.join(", ")
        )));
    }
    if !applied.iter().any(|m| m.app == MINIMUM.0 && m.name == MINIMUM.1) {
        let latest = applied.iter().filter(|m| m.app == "core").map(|m| m.name.as_str()).max().unwrap_or("none");
        return Err(StoreError::Schema(format!(
            "this database was made by Meet's Django backend and is at core.{latest}; meet takes over databases \
             from {}.{} (upstream 41c1f41e) on: run Meet's `python manage.py migrate` with that version first; \
             nothing was changed",
            MINIMUM.0, MINIMUM.1
        )));
    }
    Ok(())
}

/// Runs one rendered migration step additively over Django's schema (see the module header).
pub(super) async fn apply(tx: &mut Tx, sql: &str) -> Result<(), StoreError> {
    for stmt in statements(sql) {
        apply_statement(tx, &stmt).await?;
    }
    Ok(())
}

/// Ends a step over Django's schema (after anything else the step did): Django's model defaults
/// and cascades are in place, so Django can still insert and delete as it always did.
pub(super) async fn finish(tx: &mut Tx) -> Result<(), StoreError> {
    for (table, column, default) in DJANGO_DEFAULTS {
        if let Some(None) = column_default(tx, table, column).await? {
            set_default(tx, table, column, default).await?;
        }
    }
    cascade_foreign_keys(tx).await
}

async fn apply_statement(tx: &mut Tx, stmt: &str) -> Result<(), StoreError> {
    let words = without_if_not_exists(stmt);
    let shape = words.join(" ");
    let upper: Vec<String> = words.iter().take(6).map(|w| w.to_ascii_uppercase()).collect();
    let kw: Vec<&str> = upper.iter().map(String::as_str).collect();
    match kw.as_slice() {
        ["CREATE", "TABLE", ..] => {
            let table = ident(words[2]);
            if !table_exists(tx, table).await? {
                return execute_script(&mut *tx, stmt).await;
            }
            tracing::debug!(table, "table made by Django: kept, missing columns added");
            for def in column_definitions(&shape) {
                add_column(tx, table, &def).await?;
            }
            Ok(())
        }
        ["ALTER", "TABLE", _, "ADD", "COLUMN", ..] => {
            let def = words[5..].join(" ");
            add_column(tx, ident(words[2]), &def).await
        }
        ["CREATE", "UNIQUE", "INDEX", ..] | ["CREATE", "INDEX", ..] => {
            let Some(index) = IndexDef::parse(&shape) else { return execute_script(&mut *tx, stmt).await };
            if index_present(tx, &index).await? {
                tracing::debug!(index = %index.name, "index (or Django's equivalent) present: kept");
                return Ok(());
            }
            execute_script(&mut *tx, stmt).await
        }
        _ => execute_script(&mut *tx, stmt).await,
    }
}

/// An identifier as the catalogs spell it (`"file"` → `file`).
fn ident(word: &str) -> &str {
    word.trim_matches('"')
}

/// The words of a statement without `IF NOT EXISTS` (the shape is what matters here).
fn without_if_not_exists(stmt: &str) -> Vec<&str> {
    let words: Vec<&str> = stmt.split_whitespace().collect();
    let mut out = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        let is = |k: usize, w: &str| words.get(i + k).is_some_and(|x| x.eq_ignore_ascii_case(w));
        if is(0, "IF") && is(1, "NOT") && is(2, "EXISTS") {
            i += 3;
            continue;
        }
        out.push(words[i]);
        i += 1;
    }
    out
}

/// Adds a column when the table lacks it; when Django made it, only gives it meet's default.
async fn add_column(tx: &mut Tx, table: &str, def: &str) -> Result<(), StoreError> {
    let Some(column) = def.split_whitespace().next().map(ident) else { return Ok(()) };
    match column_default(tx, table, column).await? {
        None => execute_script(&mut *tx, &format!("ALTER TABLE \"{table}\" ADD COLUMN {def}")).await,
        Some(Some(_)) => Ok(()),
        Some(None) => match declared_default(def) {
            Some(default) => set_default(tx, table, column, &default).await,
            None => Ok(()),
        },
    }
}

async fn set_default(tx: &mut Tx, table: &str, column: &str, default: &str) -> Result<(), StoreError> {
    execute_script(&mut *tx, &format!("ALTER TABLE \"{table}\" ALTER COLUMN \"{column}\" SET DEFAULT {default}")).await
}

/// `None`: no such column; `Some(None)`: a column without default.
async fn column_default(tx: &mut Tx, table: &str, column: &str) -> Result<Option<Option<String>>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Col {
        column_default: Option<String>,
    }
    let col: Option<Col> = Q::new(
        "SELECT column_default::text AS column_default FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2",
    )
    .bind(table.to_string())
    .bind(column.to_string())
    .fetch_optional(&mut *tx)
    .await?;
    Ok(col.map(|c| c.column_default))
}

async fn table_exists(tx: &mut Tx, table: &str) -> Result<bool, StoreError> {
    let c: Count = Q::new(
        "SELECT count(*) AS n FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1",
    )
    .bind(table.to_string())
    .fetch_one(&mut *tx)
    .await?;
    Ok(c.n > 0)
}

/// An index by name, or one of another name (Django's) on the same columns with the same
/// uniqueness and partialness.
async fn index_present(tx: &mut Tx, index: &IndexDef) -> Result<bool, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Existing {
        indexname: String,
        indexdef: String,
    }
    let existing: Vec<Existing> = Q::new(
        "SELECT indexname::text AS indexname, indexdef FROM pg_indexes \
         WHERE schemaname = current_schema() AND tablename = $1",
    )
    .bind(index.table.clone())
    .fetch_all(&mut *tx)
    .await?;
    Ok(existing
        .iter()
        .any(|e| e.indexname == index.name || IndexDef::parse(&e.indexdef).is_some_and(|d| d.equivalent(index))))
}

/// Gives the foreign keys of [`CASCADES`] Django made `ON DELETE CASCADE`, under the same name
/// and with the same deferral.
async fn cascade_foreign_keys(tx: &mut Tx) -> Result<(), StoreError> {
    #[derive(sqlx::FromRow)]
    struct Fk {
        name: String,
        definition: String,
    }
    for (table, column, target) in CASCADES {
        let fks: Vec<Fk> = Q::new(
            "SELECT c.conname::text AS name, pg_get_constraintdef(c.oid) AS definition FROM pg_constraint c \
             JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
             JOIN pg_class r ON r.oid = c.confrelid \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1] \
             WHERE c.contype = 'f' AND c.confdeltype <> 'c' AND cardinality(c.conkey) = 1 \
             AND n.nspname = current_schema() AND t.relname = $1 AND a.attname = $2 AND r.relname = $3",
        )
        .bind(table.to_string())
        .bind(column.to_string())
        .bind(target.to_string())
        .fetch_all(&mut *tx)
        .await?;
        for fk in fks {
            let definition = with_cascade(&fk.definition);
            execute_script(
                &mut *tx,
                &format!(
                    "ALTER TABLE \"{table}\" DROP CONSTRAINT \"{0}\", ADD CONSTRAINT \"{0}\" {definition}",
                    fk.name
                ),
            )
            .await?;
        }
    }
    Ok(())
}

/// `FOREIGN KEY (x) REFERENCES t(id) DEFERRABLE INITIALLY DEFERRED` with `ON DELETE CASCADE`
/// in its place (after the referenced columns, before the deferral).
fn with_cascade(definition: &str) -> String {
    match definition.find(" DEFERRABLE") {
        Some(at) => format!("{} ON DELETE CASCADE{}", &definition[..at], &definition[at..]),
        None => format!("{definition} ON DELETE CASCADE"),
    }
}

/// The statements of a script, split at `;` outside parentheses and quotes, comments removed.
fn statements(sql: &str) -> Vec<String> {
    let text: String = sql.lines().map(|l| l.split("--").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    split_top_level(&text, ';').into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

/// Splits at `sep` where not inside parentheses or single quotes.
fn split_top_level(text: &str, sep: char) -> Vec<String> {
    let (mut out, mut cur, mut depth, mut quoted) = (Vec::new(), String::new(), 0i32, false);
    for ch in text.chars() {
        match ch {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            c if c == sep && !quoted && depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(ch);
    }
    out.push(cur);
    out
}

/// The column definitions of a `CREATE TABLE` (table constraints left out).
fn column_definitions(stmt: &str) -> Vec<String> {
    let (Some(open), Some(close)) = (stmt.find('('), stmt.rfind(')')) else { return Vec::new() };
    split_top_level(&stmt[open + 1..close], ',')
        .into_iter()
        .map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|d| {
            let first = d.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
            !d.is_empty() && !["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"].contains(&first.as_str())
        })
        .collect()
}

/// The `DEFAULT` expression of a column definition (up to the next clause).
fn declared_default(def: &str) -> Option<String> {
    let words: Vec<&str> = def.split_whitespace().collect();
    let at = words.iter().position(|w| w.eq_ignore_ascii_case("DEFAULT"))?;
    let stop = ["NOT", "NULL", "CONSTRAINT", "REFERENCES", "CHECK", "UNIQUE", "PRIMARY"];
    let expr: Vec<&str> =
        words[at + 1..].iter().take_while(|w| !stop.iter().any(|s| w.eq_ignore_ascii_case(s))).copied().collect();
    (!expr.is_empty()).then(|| expr.join(" "))
}

/// What identifies an index for [`index_present`].
#[derive(Debug, PartialEq)]
struct IndexDef {
    name: String,
    table: String,
    unique: bool,
    columns: String,
    partial: bool,
}

impl IndexDef {
    /// Parses ours (`CREATE [UNIQUE] INDEX n ON t (cols) [WHERE …]`) and PostgreSQL's
    /// (`CREATE UNIQUE INDEX n ON public.t USING btree (cols) WHERE …`).
    fn parse(stmt: &str) -> Option<IndexDef> {
        let words: Vec<&str> = stmt.split_whitespace().collect();
        let unique = words.get(1)?.eq_ignore_ascii_case("UNIQUE");
        let rest = &words[if unique { 3 } else { 2 }..];
        let (name, on, table) = (rest.first()?, rest.get(1)?, rest.get(2)?);
        if !on.eq_ignore_ascii_case("ON") {
            return None;
        }
        let table = ident(table.split('(').next()?.rsplit('.').next()?).to_string();
        let open = stmt.find(" ON ").and_then(|at| stmt[at..].find('(').map(|p| p + at))?;
        let mut depth = 0;
        let mut close = None;
        for (i, ch) in stmt[open..].char_indices() {
            match ch {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        close = Some(open + i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let close = close?;
        let columns = stmt[open + 1..close]
            .to_ascii_lowercase()
            .replace("::character varying", "")
            .replace("::text", "")
            .chars()
            .filter(|c| !matches!(c, '(' | ')' | ' ' | '"'))
            .collect();
        let partial = stmt[close..].to_ascii_uppercase().contains("WHERE");
        Some(IndexDef { name: ident(name).to_string(), table, unique, columns, partial })
    }

    fn equivalent(&self, other: &IndexDef) -> bool {
        self.table == other.table
            && self.unique == other.unique
            && self.columns == other.columns
            && self.partial == other.partial
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_outside_parentheses_and_quotes() {
        let s = statements("CREATE TABLE a (x int, y text DEFAULT ';'); -- note; here\nCREATE INDEX i ON a (x);\n");
        assert_eq!(s, ["CREATE TABLE a (x int, y text DEFAULT ';')", "CREATE INDEX i ON a (x)"]);
    }

    #[test]
    fn column_definitions_leave_table_constraints_out() {
        let defs = column_definitions(
            "CREATE TABLE t (\n id uuid PRIMARY KEY,\n scopes varchar(50)[] NOT NULL DEFAULT '{}',\n \
             CONSTRAINT u UNIQUE (id, scopes)\n)",
        );
        assert_eq!(defs, ["id uuid PRIMARY KEY", "scopes varchar(50)[] NOT NULL DEFAULT '{}'"]);
    }

    #[test]
    fn declared_default_stops_at_the_next_clause() {
        assert_eq!(declared_default("c jsonb NOT NULL DEFAULT '{}'").as_deref(), Some("'{}'"));
        assert_eq!(declared_default("c boolean DEFAULT true NOT NULL").as_deref(), Some("true"));
        assert_eq!(declared_default("c text NULL"), None);
    }

    #[test]
    fn indexes_of_other_names_on_the_same_columns_are_equivalent() {
        let ours = IndexDef::parse("CREATE UNIQUE INDEX mine ON meet_application_domain (application_id, domain)");
        let django = IndexDef::parse(
            "CREATE UNIQUE INDEX meet_application_domain_application_id_domain_5a0e480e_uniq \
             ON public.meet_application_domain USING btree (application_id, domain)",
        );
        assert!(ours.unwrap().equivalent(&django.unwrap()));
        let lower = IndexDef::parse("CREATE UNIQUE INDEX a ON meet_user (lower(email)) WHERE sub IS NULL").unwrap();
        let pg = IndexDef::parse(
            "CREATE UNIQUE INDEX b ON public.meet_user USING btree (lower((email)::text)) WHERE (sub IS NULL)",
        )
        .unwrap();
        assert!(lower.equivalent(&pg));
        let like =
            IndexDef::parse("CREATE INDEX c ON public.meet_room USING btree (slug varchar_pattern_ops)").unwrap();
        let plain = IndexDef::parse("CREATE INDEX d ON meet_room (slug)").unwrap();
        assert!(!like.equivalent(&plain), "a pattern index does not serve equality lookups the same way");
        let not_unique = IndexDef::parse("CREATE INDEX e ON meet_room (slug)").unwrap();
        let unique = IndexDef::parse("CREATE UNIQUE INDEX f ON meet_room (slug)").unwrap();
        assert!(!not_unique.equivalent(&unique));
    }

    #[test]
    fn quoted_identifiers_are_read_as_the_catalogs_spell_them() {
        let ours = IndexDef::parse("CREATE INDEX \"i\" ON \"file\" (creator_id, type, created_at DESC)").unwrap();
        let pg =
            IndexDef::parse("CREATE INDEX j ON public.file USING btree (creator_id, type, created_at DESC)").unwrap();
        assert_eq!((ours.name.as_str(), ours.table.as_str()), ("i", "file"));
        assert!(ours.equivalent(&pg));
        assert_eq!(without_if_not_exists("CREATE TABLE IF NOT EXISTS \"file\" (x int)")[2], "\"file\"");
    }

    #[test]
    fn cascade_goes_before_the_deferral() {
        assert_eq!(
            with_cascade("FOREIGN KEY (user_id) REFERENCES meet_user(id) DEFERRABLE INITIALLY DEFERRED"),
            "FOREIGN KEY (user_id) REFERENCES meet_user(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED"
        );
        assert_eq!(
            with_cascade("FOREIGN KEY (a) REFERENCES t(id)"),
            "FOREIGN KEY (a) REFERENCES t(id) ON DELETE CASCADE"
        );
    }

    #[test]
    fn every_known_application_lists_its_migrations_in_order() {
        for (app, names) in KNOWN {
            let mut sorted = names.to_vec();
            sorted.sort();
            assert_eq!(&sorted, names, "{app}");
        }
        assert!(KNOWN.iter().any(|(app, names)| *app == MINIMUM.0 && names.contains(&MINIMUM.1)));
    }
}
