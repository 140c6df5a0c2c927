//! Deterministic DeFtunes sample data (songs, users, sessions) with a handful
//! of realistic defects, written as Parquet. Sessions are partitioned by
//! ingestion date (`sessions/ingestion_date=YYYY-MM-DD/part-0.parquet`), as
//! the landing zone holds them.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{Duration, NaiveDate, NaiveDateTime};
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int32Array, ListBuilder, StringArray, StringBuilder,
    TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::properties::WriterProperties;

/// Why sample data could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// A file or folder could not be created.
    #[error("cannot write {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Arrow rejected a batch.
    #[error("cannot build a batch: {0}")]
    Arrow(#[from] ArrowError),
    /// Parquet encoding failed.
    #[error("cannot encode Parquet: {0}")]
    Parquet(#[from] ParquetError),
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct SampleSpec {
    /// Session rows in total (spread over `days` ingestion dates).
    pub sessions: usize,
    /// Ingestion days, ending the day before `anchor`.
    pub days: usize,
    /// Seed of the generator.
    pub seed: u64,
    /// "Now" at generation: timestamps lie before it.
    pub anchor: NaiveDateTime,
}

/// What was written.
#[derive(Debug, Clone)]
pub struct SampleSummary {
    /// `songs.parquet`.
    pub songs: PathBuf,
    /// `users.parquet`.
    pub users: PathBuf,
    /// The `sessions/` folder.
    pub sessions: PathBuf,
    /// Rows written per table: songs, users, sessions.
    pub rows: (usize, usize, usize),
}

/// SplitMix64: small, fast and stable across versions.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: usize) -> usize {
        (self.unit() * n as f64) as usize % n.max(1)
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        let a = (a & 0xFFFF_FFFF_FFFF_0FFF) | 0x0000_0000_0000_4000;
        let b = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xFFFF,
            a & 0xFFFF,
            b >> 48,
            b & 0xFFFF_FFFF_FFFF
        )
    }
    fn msd_id(&mut self, prefix: &str) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let mut s = prefix.to_string();
        for _ in 0..16 {
            s.push(ALPHABET[self.below(ALPHABET.len())] as char);
        }
        s
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const WORDS: &[&str] = &[
    "midnight", "river", "electric", "golden", "shadow", "summer", "velvet", "broken", "neon",
    "silent", "wild", "crystal", "paper", "ocean", "fire", "lonely", "dancing", "distant", "sugar",
    "thunder",
];
const BANDS: &[&str] = &[
    "Owls",
    "Foxes",
    "Machines",
    "Ghosts",
    "Rivers",
    "Kings",
    "Strangers",
    "Pilots",
];
const FIRST: &[&str] = &[
    "Ana", "Ben", "Carla", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Keiko",
    "Liam",
];
const LAST: &[&str] = &[
    "Abbott", "Barros", "Chen", "Dubois", "Eriksen", "Fischer", "Garcia", "Hughes", "Jensen",
    "Lopez",
];
const PLACES: &[(&str, &str, &str, f64, f64)] = &[
    ("Springfield", "United States", "US", 39.8, -89.6),
    ("London", "United Kingdom", "GB", 51.5, -0.1),
    ("Berlin", "Germany", "DE", 52.5, 13.4),
    ("Lyon", "France", "FR", 45.8, 4.8),
    ("Recife", "Brazil", "BR", -8.1, -34.9),
    ("Toronto", "Canada", "CA", 43.7, -79.4),
    ("Osaka", "Japan", "JP", 34.7, 135.5),
    ("Madrid", "Spain", "ES", 40.4, -3.7),
];

fn title_case(w: &str) -> String {
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn micros(t: NaiveDateTime) -> i64 {
    t.and_utc().timestamp_micros()
}

fn write_parquet(path: &Path, batch: &RecordBatch) -> Result<(), SampleError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| SampleError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let file = File::create(path).map_err(|source| SampleError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props))?;
    writer.write(batch)?;
    writer.close()?;
    Ok(())
}

struct Songs {
    track_ids: Vec<String>,
    artist_names: Vec<Option<String>>,
    durations: Vec<f64>,
}

fn songs(rng: &mut Rng, n: usize) -> Result<(RecordBatch, Songs), SampleError> {
    let n_artists = (n / 8).max(10);
    let artists: Vec<(String, String, String)> = (0..n_artists)
        .map(|_| {
            let name = if rng.chance(0.5) {
                format!("The {} {}", title_case(rng.pick(WORDS)), rng.pick(BANDS))
            } else {
                format!("{} {}", rng.pick(FIRST), rng.pick(LAST))
            };
            (rng.msd_id("AR"), rng.uuid(), name)
        })
        .collect();
    let mut track_id = Vec::with_capacity(n);
    let mut title = Vec::with_capacity(n);
    let mut song_id = Vec::with_capacity(n);
    let mut release = Vec::with_capacity(n);
    let mut artist_id = Vec::with_capacity(n);
    let mut artist_mbid = Vec::with_capacity(n);
    let mut artist_name: Vec<Option<String>> = Vec::with_capacity(n);
    let mut duration = Vec::with_capacity(n);
    let mut familiarity = Vec::with_capacity(n);
    let mut hotttnesss = Vec::with_capacity(n);
    let mut year = Vec::with_capacity(n);
    let mut digital = Vec::with_capacity(n);
    let mut shs_perf = Vec::with_capacity(n);
    let mut shs_work = Vec::with_capacity(n);
    for _ in 0..n {
        let a = &artists[rng.below(artists.len())];
        track_id.push(rng.msd_id("TR"));
        let words = 1 + rng.below(3);
        title.push(
            (0..words)
                .map(|_| title_case(rng.pick(WORDS)))
                .collect::<Vec<_>>()
                .join(" "),
        );
        song_id.push(rng.msd_id("SO"));
        release.push(format!("{} Sessions", title_case(rng.pick(WORDS))));
        artist_id.push(a.0.clone());
        artist_mbid.push(a.1.clone());
        // Defect: a few songs lost their artist name.
        artist_name.push((!rng.chance(0.002)).then(|| a.2.clone()));
        duration.push(((120.0 + rng.unit() * 300.0) * 100.0).round() / 100.0);
        familiarity.push(rng.unit());
        hotttnesss.push(rng.unit() * 0.9);
        // As in the Million Song Dataset, year 0 means unknown.
        year.push(if rng.chance(0.05) {
            0
        } else {
            1960 + rng.below(66) as i32
        });
        digital.push(1_000_000 + rng.below(9_000_000) as i32);
        shs_perf.push(if rng.chance(0.02) {
            rng.below(100_000) as i32
        } else {
            -1
        });
        shs_work.push(if rng.chance(0.02) {
            rng.below(10_000) as i32
        } else {
            0
        });
    }
    let str_col = |v: &Vec<String>| Arc::new(StringArray::from_iter_values(v)) as ArrayRef;
    let schema = Arc::new(Schema::new(vec![
        Field::new("track_id", DataType::Utf8, false),
        Field::new("title", DataType::Utf8, false),
        Field::new("song_id", DataType::Utf8, false),
        Field::new("release", DataType::Utf8, false),
        Field::new("artist_id", DataType::Utf8, false),
        Field::new("artist_mbid", DataType::Utf8, false),
        Field::new("artist_name", DataType::Utf8, true),
        Field::new("duration", DataType::Float64, false),
        Field::new("artist_familiarity", DataType::Float64, false),
        Field::new("artist_hotttnesss", DataType::Float64, false),
        Field::new("year", DataType::Int32, false),
        Field::new("track_7digitalid", DataType::Int32, false),
        Field::new("shs_perf", DataType::Int32, false),
        Field::new("shs_work", DataType::Int32, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            str_col(&track_id),
            str_col(&title),
            str_col(&song_id),
            str_col(&release),
            str_col(&artist_id),
            str_col(&artist_mbid),
            Arc::new(StringArray::from(artist_name.clone())),
            Arc::new(Float64Array::from(duration.clone())),
            Arc::new(Float64Array::from(familiarity)),
            Arc::new(Float64Array::from(hotttnesss)),
            Arc::new(Int32Array::from(year)),
            Arc::new(Int32Array::from(digital)),
            Arc::new(Int32Array::from(shs_perf)),
            Arc::new(Int32Array::from(shs_work)),
        ],
    )?;
    Ok((
        batch,
        Songs {
            track_ids: track_id,
            artist_names: artist_name,
            durations: duration,
        },
    ))
}

fn users(
    rng: &mut Rng,
    n: usize,
    anchor: NaiveDateTime,
) -> Result<(RecordBatch, Vec<String>), SampleError> {
    let mut user_id = Vec::with_capacity(n);
    let mut name = Vec::with_capacity(n);
    let mut lastname: Vec<Option<&str>> = Vec::with_capacity(n);
    let mut location = ListBuilder::new(StringBuilder::new());
    let mut country = Vec::with_capacity(n);
    let mut since = Vec::with_capacity(n);
    for _ in 0..n {
        user_id.push(rng.uuid());
        name.push(rng.pick(FIRST));
        lastname.push((!rng.chance(0.003)).then(|| rng.pick(LAST)));
        let p = PLACES[rng.below(PLACES.len())];
        location.values().append_value(p.0);
        location.values().append_value(p.1);
        location
            .values()
            .append_value(format!("{:.4}", p.3 + rng.unit() - 0.5));
        location
            .values()
            .append_value(format!("{:.4}", p.4 + rng.unit() - 0.5));
        location.append(true);
        // Defect: a few users carry codes that are not ISO 3166 alpha-2.
        country.push(if rng.chance(0.005) {
            rng.pick(&["UK", "XX", "usa"])
        } else {
            p.2
        });
        let days = 1.0 + rng.unit() * 5.0 * 365.0;
        since.push(micros(anchor - Duration::seconds((days * 86_400.0) as i64)));
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("user_id", DataType::Utf8, false),
        Field::new("user_name", DataType::Utf8, false),
        Field::new("user_lastname", DataType::Utf8, true),
        Field::new(
            "user_location",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            true,
        ),
        Field::new("country_code", DataType::Utf8, true),
        Field::new(
            "user_since",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from_iter_values(&user_id)),
            Arc::new(StringArray::from(name)),
            Arc::new(StringArray::from(lastname)),
            Arc::new(location.finish()),
            Arc::new(StringArray::from(country)),
            Arc::new(TimestampMicrosecondArray::from(since)),
        ],
    )?;
    Ok((batch, user_id))
}

fn sessions_day(
    rng: &mut Rng,
    n: usize,
    day: NaiveDate,
    users: &[String],
    songs: &Songs,
    seen_ids: &mut Vec<String>,
) -> Result<RecordBatch, SampleError> {
    let mut session_id = Vec::with_capacity(n);
    let mut user_id: Vec<Option<String>> = Vec::with_capacity(n);
    let mut song_id = Vec::with_capacity(n);
    let mut artist: Vec<Option<String>> = Vec::with_capacity(n);
    let mut price: Vec<Option<f64>> = Vec::with_capacity(n);
    let mut liked: Vec<bool> = Vec::with_capacity(n);
    let mut liked_since: Vec<Option<i64>> = Vec::with_capacity(n);
    let mut start = Vec::with_capacity(n);
    let day_start = day.and_time(chrono::NaiveTime::MIN);
    for _ in 0..n {
        // Defect: a retried extraction re-lands a few sessions.
        let id = if !seen_ids.is_empty() && rng.chance(0.0002) {
            seen_ids[rng.below(seen_ids.len())].clone()
        } else {
            rng.uuid()
        };
        if seen_ids.len() < 10_000 {
            seen_ids.push(id.clone());
        }
        session_id.push(id);
        // Defects: missing users and users the users table does not know.
        user_id.push(if rng.chance(0.004) {
            None
        } else if rng.chance(0.002) {
            Some(rng.uuid())
        } else {
            Some(users[rng.below(users.len())].clone())
        });
        let s = rng.below(songs.track_ids.len());
        song_id.push(songs.track_ids[s].clone());
        artist.push(songs.artist_names[s].clone());
        let base = 0.5 + 1.5 * ((songs.durations[s] - 120.0) / 300.0);
        let p = ((base + (rng.unit() - 0.5) * 0.3).clamp(0.5, 2.0) * 100.0).round() / 100.0;
        // Defects: refunds land as negative prices; some prices are lost.
        price.push(if rng.chance(0.003) {
            None
        } else if rng.chance(0.0005) {
            Some(-p)
        } else {
            Some(p)
        });
        let t = day_start + Duration::seconds(rng.below(86_400) as i64);
        start.push(micros(t));
        let is_liked = rng.chance(0.35);
        liked.push(is_liked);
        liked_since.push(if is_liked {
            // Defect: a clock-skewed client likes before listening.
            let delta = if rng.chance(0.001) {
                -3_600
            } else {
                rng.below(86_400) as i64
            };
            Some(micros(t + Duration::seconds(delta)))
        } else {
            None
        });
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("session_id", DataType::Utf8, false),
        Field::new("user_id", DataType::Utf8, true),
        Field::new("song_id", DataType::Utf8, false),
        Field::new("artist_name", DataType::Utf8, true),
        Field::new("price", DataType::Float64, true),
        Field::new("liked", DataType::Boolean, false),
        Field::new(
            "liked_since",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            true,
        ),
        Field::new(
            "session_start_time",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            false,
        ),
    ]));
    Ok(RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from_iter_values(&session_id)),
            Arc::new(StringArray::from(user_id)),
            Arc::new(StringArray::from_iter_values(&song_id)),
            Arc::new(StringArray::from(artist)),
            Arc::new(Float64Array::from(price)),
            Arc::new(BooleanArray::from(liked)),
            Arc::new(TimestampMicrosecondArray::from(liked_since)),
            Arc::new(TimestampMicrosecondArray::from(start)),
        ],
    )?)
}

/// Writes songs, users and sessions under `dir`; `progress` hears of each
/// table as it is written.
pub fn generate(
    dir: &Path,
    spec: &SampleSpec,
    mut progress: impl FnMut(&str),
) -> Result<SampleSummary, SampleError> {
    let mut rng = Rng(spec.seed);
    let n_songs = (spec.sessions / 20).max(200);
    let n_users = (spec.sessions / 10).max(100);
    let (song_batch, song_facts) = songs(&mut rng, n_songs)?;
    let songs_path = dir.join("songs.parquet");
    write_parquet(&songs_path, &song_batch)?;
    progress("songs");
    let (user_batch, user_ids) = users(&mut rng, n_users, spec.anchor)?;
    let users_path = dir.join("users.parquet");
    write_parquet(&users_path, &user_batch)?;
    progress("users");
    let sessions_dir = dir.join("sessions");
    let days = spec.days.max(1);
    let mut seen = Vec::new();
    let mut written = 0;
    for d in 0..days {
        let day = spec.anchor.date() - Duration::days((days - d) as i64);
        let n = spec.sessions / days + usize::from(d < spec.sessions % days);
        let batch = sessions_day(&mut rng, n, day, &user_ids, &song_facts, &mut seen)?;
        let path = sessions_dir
            .join(format!("ingestion_date={}", day.format("%Y-%m-%d")))
            .join("part-0.parquet");
        write_parquet(&path, &batch)?;
        written += n;
        progress(&format!("sessions {written}/{}", spec.sessions));
    }
    Ok(SampleSummary {
        songs: songs_path,
        users: users_path,
        sessions: sessions_dir,
        rows: (n_songs, n_users, written),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_version_4() {
        let mut r = Rng(7);
        let re = regex::Regex::new(
            "^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$",
        )
        .expect("regex");
        for _ in 0..100 {
            let u = r.uuid();
            assert!(re.is_match(&u), "{u}");
        }
    }

    #[test]
    fn generator_is_deterministic() {
        let (mut a, mut b) = (Rng(42), Rng(42));
        assert_eq!(
            (0..10).map(|_| a.next()).collect::<Vec<_>>(),
            (0..10).map(|_| b.next()).collect::<Vec<_>>()
        );
    }
}
