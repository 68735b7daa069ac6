/* s2s-analyze: the --json, --jsonl and --csv writers.
 *
 * Files are written next to their final name (`NAME.part`) and renamed when
 * complete, so a reader never sees half a file; "-" writes to stdout.
 * NaN values are `null` in JSON and an empty field in CSV. */
#pragma once

#include <string>

#include "analyze-results.h"

namespace s2sa {

/* A JSON number that reads back to the same double; "null" for NaN and
 * infinities, which JSON cannot hold. */
std::string json_number (double v);

/* Checks, before a run, that `path` can be created (its folder exists and is
 * writable); "-" always can. */
bool check_writable (const std::string & path, std::string * error);

/* {"done": <bool>, "metrics": [[mse, inv_ssim, lpips, weighted], ...]}
 * with an added "musiq": [score, ...] when musiqscore ran. */
bool write_json (const Results & results, const std::string & path, std::string * error);

/* write_json's document as text (s2s-serve's final message). */
std::string json_text (const Results & results);

/* One JSON object per frame: frame, pts, time, the metrics, status (and
 * musiq, musiq_status when musiqscore ran). */
bool write_jsonl (const Results & results, const std::string & path, std::string * error);

/* Header then one row per frame, the same columns as the JSONL keys. */
bool write_csv (const Results & results, const std::string & path, std::string * error);

/* Writes `path` through `NAME.part` and a rename (or to stdout for "-"):
 * `fill` gets the open stream and returns false on its own failures. */
bool write_atomically (const std::string & path, std::string * error,
    bool (*fill) (FILE * out, const Results & results), const Results & results);

}  // namespace s2sa
