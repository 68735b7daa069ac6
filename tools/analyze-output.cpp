#include "analyze-output.h"

#include <glib.h>
#include <glib/gstdio.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace s2sa {

std::string
json_number (double v)
{
  if (!std::isfinite (v))
    return "null";
  /* The shortest of 15, 16 or 17 significant digits that reads back exactly,
   * always with '.' as the decimal point whatever the locale. */
  char buf[G_ASCII_DTOSTR_BUF_SIZE];
  for (int digits = 15; digits <= 17; ++digits) {
    char format[8];
    g_snprintf (format, sizeof format, "%%.%dg", digits);
    g_ascii_formatd (buf, sizeof buf, format, v);
    if (g_ascii_strtod (buf, NULL) == v)
      break;
  }
  return buf;
}

namespace {

std::string
string_or_null (const std::string & s)
{
  if (s.empty ())
    return "null";
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char esc[8];
          g_snprintf (esc, sizeof esc, "\\u%04x", c);
          out += esc;
        } else {
          out += (char) c;
        }
    }
  }
  return out + "\"";
}

std::string
clock_ns (GstClockTime t)
{
  if (!GST_CLOCK_TIME_IS_VALID (t))
    return "";
  return std::to_string ((unsigned long long) t);
}

/* Seconds with nanosecond resolution: "1.033333333". */
std::string
clock_seconds (GstClockTime t)
{
  if (!GST_CLOCK_TIME_IS_VALID (t))
    return "";
  char buf[48];
  g_snprintf (buf, sizeof buf, "%" G_GUINT64_FORMAT ".%09" G_GUINT64_FORMAT,
      (guint64) (t / GST_SECOND), (guint64) (t % GST_SECOND));
  return buf;
}

std::string
or_null (const std::string & s)
{
  return s.empty () ? "null" : s;
}

std::string
csv_number (double v)
{
  if (std::isinf (v) && v > 0)
    return "inf";               /* PSNR of identical frames */
  return std::isfinite (v) ? json_number (v) : "";
}

bool
fill_json (FILE * out, const Results & results)
{
  fprintf (out, "{\"done\": %s, \"metrics\": [", results.done ? "true" : "false");
  for (size_t i = 0; i < results.rows.size (); ++i) {
    const MetricRow & r = results.rows[i];
    fprintf (out, "%s\n  [%s, %s, %s, %s]", i ? "," : "", json_number (r.mse).c_str (),
        json_number (r.inv_ssim).c_str (), json_number (r.lpips).c_str (),
        json_number (r.weighted).c_str ());
  }
  fputs (results.rows.empty ()? "]" : "\n]", out);
  if (results.ran_musiq) {
    fputs (", \"musiq\": [", out);
    for (size_t i = 0; i < results.musiq.size (); ++i)
      fprintf (out, "%s%s", i ? ", " : "", json_number (results.musiq[i].score).c_str ());
    fputs ("]", out);
  }
  fputs ("}\n", out);
  return true;
}

bool
fill_jsonl (FILE * out, const Results & results)
{
  for (const Record & rec : results.records ()) {
    fprintf (out, "{\"frame\": %" G_GUINT64_FORMAT ", \"pts\": %s, \"time\": %s", rec.frame,
        or_null (clock_ns (rec.pts)).c_str (), or_null (clock_seconds (rec.stream_time)).c_str ());
    if (results.ran_metrics) {
      const MetricRow *m = rec.metrics;
      for (int k = kMse; k <= kPsnr; ++k)
        fprintf (out, ", \"%s\": %s", metric_info ((Metric) k).key,
            json_number (m ? Results::value (*m, (Metric) k) : kNaN).c_str ());
      fprintf (out, ", \"status\": %s", string_or_null (m ? m->status : "").c_str ());
    }
    if (results.ran_musiq) {
      const MusiqRow *q = rec.musiq;
      fprintf (out, ", \"musiq\": %s, \"musiq_status\": %s",
          json_number (q ? q->score : kNaN).c_str (),
          string_or_null (q ? q->status : "").c_str ());
    }
    fputs ("}\n", out);
  }
  return true;
}

bool
fill_csv (FILE * out, const Results & results)
{
  fputs ("frame,pts,time", out);
  if (results.ran_metrics)
    fputs (",mse,inv_ssim,lpips,weighted,psnr,status", out);
  if (results.ran_musiq)
    fputs (",musiq,musiq_status", out);
  fputs ("\n", out);
  for (const Record & rec : results.records ()) {
    fprintf (out, "%" G_GUINT64_FORMAT ",%s,%s", rec.frame, clock_ns (rec.pts).c_str (),
        clock_seconds (rec.stream_time).c_str ());
    if (results.ran_metrics) {
      const MetricRow *m = rec.metrics;
      for (int k = kMse; k <= kPsnr; ++k)
        fprintf (out, ",%s", csv_number (m ? Results::value (*m, (Metric) k) : kNaN).c_str ());
      /* Statuses are single words (ok, partial, skipped, error). */
      fprintf (out, ",%s", m ? m->status.c_str () : "");
    }
    if (results.ran_musiq) {
      const MusiqRow *q = rec.musiq;
      fprintf (out, ",%s,%s", csv_number (q ? q->score : kNaN).c_str (),
          q ? q->status.c_str () : "");
    }
    fputs ("\n", out);
  }
  return true;
}

std::string
part_name (const std::string & path)
{
  return path + ".part";
}

}  // namespace

bool
check_writable (const std::string & path, std::string * error)
{
  if (path == "-")
    return true;
  if (g_file_test (path.c_str (), G_FILE_TEST_IS_DIR)) {
    *error = path + ": is a directory";
    return false;
  }
  const std::string part = part_name (path);
  FILE *f = g_fopen (part.c_str (), "w");
  if (!f) {
    *error = path + ": cannot write: " + g_strerror (errno);
    return false;
  }
  fclose (f);
  g_unlink (part.c_str ());
  return true;
}

bool
write_atomically (const std::string & path, std::string * error,
    bool (*fill) (FILE * out, const Results & results), const Results & results)
{
  if (path == "-") {
    const bool ok = fill (stdout, results) && fflush (stdout) == 0;
    if (!ok)
      *error = std::string ("stdout: ") + g_strerror (errno);
    return ok;
  }
  const std::string part = part_name (path);
  FILE *f = g_fopen (part.c_str (), "w");
  if (!f) {
    *error = path + ": cannot write: " + g_strerror (errno);
    return false;
  }
  errno = 0;
  bool ok = fill (f, results);
  ok = fflush (f) == 0 && !ferror (f) && ok;
  int saved = ok ? 0 : errno;
  if (fclose (f) != 0 && ok) {
    ok = false;
    saved = errno;
  }
  if (ok && g_rename (part.c_str (), path.c_str ()) != 0) {
    ok = false;
    saved = errno;
  }
  if (!ok) {
    *error = path + ": cannot write: " + g_strerror (saved ? saved : EIO);
    g_unlink (part.c_str ());
  }
  return ok;
}

bool
write_json (const Results & results, const std::string & path, std::string * error)
{
  return write_atomically (path, error, fill_json, results);
}

bool
write_jsonl (const Results & results, const std::string & path, std::string * error)
{
  return write_atomically (path, error, fill_jsonl, results);
}

bool
write_csv (const Results & results, const std::string & path, std::string * error)
{
  return write_atomically (path, error, fill_csv, results);
}

}  // namespace s2sa

namespace s2sa {

std::string
json_text (const Results & results)
{
  char *buf = nullptr;
  size_t size = 0;
  FILE *out = open_memstream (&buf, &size);
  if (!out)
    return "";
  fill_json (out, results);
  fclose (out);
  std::string text (buf, size);
  free (buf);
  return text;
}

}  // namespace s2sa
