/* s2s-analyze's pipeline, shared with s2s-serve: see analyze-pipeline.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "analyze-pipeline.h"

#include <gst/pbutils/pbutils.h>
#include <gst/video/video.h>

#include <cstring>

namespace s2sa {

namespace {

/* decodebin's GstAutoplugSelectResult (not in a public header). */
constexpr int kAutoplugTry = 0;
constexpr int kAutoplugSkip = 2;

/* Names of our elements, unlikely to clash with a --pipeline's own. */
constexpr const char *kSourceName = "s2s-analyze-source";
constexpr const char *kDecoderName = "s2s-analyze-decodebin";
constexpr const char *kConvertName = "s2s-analyze-convert";
constexpr const char *kMetricsName = "s2s-analyze-metrics";
constexpr const char *kMusiqName = "s2s-analyze-musiq";
constexpr const char *kSinkName = "s2s-analyze-sink";
constexpr const char *kNoVideoMessage = "s2s-analyze-no-video";

}  // namespace

/* ------------------------------------------------------------------------ */
/* Element properties from text                                            */
/* ------------------------------------------------------------------------ */

/* What a property accepts, for error messages. */
std::string
expected_values (GParamSpec * ps)
{
  std::string out;
  char buf[128];
  if (G_IS_PARAM_SPEC_ENUM (ps)) {
    GEnumClass *ec = G_PARAM_SPEC_ENUM (ps)->enum_class;
    for (guint i = 0; i < ec->n_values; ++i)
      out += (i ? ", " : "") + std::string (ec->values[i].value_nick);
    return "one of " + out;
  }
  if (G_IS_PARAM_SPEC_FLAGS (ps)) {
    GFlagsClass *fc = G_PARAM_SPEC_FLAGS (ps)->flags_class;
    for (guint i = 0; i < fc->n_values; ++i)
      out += (i ? ", " : "") + std::string (fc->values[i].value_nick);
    return "a comma-separated list of " + out;
  }
  if (G_IS_PARAM_SPEC_UINT (ps)) {
    g_snprintf (buf, sizeof buf, "an integer from %u to %u", G_PARAM_SPEC_UINT (ps)->minimum,
        G_PARAM_SPEC_UINT (ps)->maximum);
    return buf;
  }
  if (G_IS_PARAM_SPEC_INT (ps)) {
    g_snprintf (buf, sizeof buf, "an integer from %d to %d", G_PARAM_SPEC_INT (ps)->minimum,
        G_PARAM_SPEC_INT (ps)->maximum);
    return buf;
  }
  if (G_IS_PARAM_SPEC_DOUBLE (ps)) {
    if (G_PARAM_SPEC_DOUBLE (ps)->minimum <= -G_MAXDOUBLE
        && G_PARAM_SPEC_DOUBLE (ps)->maximum >= G_MAXDOUBLE)
      return "a number";
    g_snprintf (buf, sizeof buf, "a number from %g to %g", G_PARAM_SPEC_DOUBLE (ps)->minimum,
        G_PARAM_SPEC_DOUBLE (ps)->maximum);
    return buf;
  }
  return std::string ("a ") + g_type_name (ps->value_type);
}

/* Sets `prop` of `element` from the text of --`option`; false with a
 * message naming the option and what it accepts. */
bool
set_from_text (GstElement * element, const char *prop, const char *text, const char *option,
    std::string * error)
{
  GParamSpec *ps = g_object_class_find_property (G_OBJECT_GET_CLASS (element), prop);
  if (!ps) {
    *error = std::string ("--") + option + ": " +
        GST_OBJECT_NAME (gst_element_get_factory (element)) + " has no property '" + prop + "'";
    return false;
  }
  GValue v = G_VALUE_INIT;
  g_value_init (&v, ps->value_type);
  bool ok;
  if (ps->value_type == G_TYPE_STRING) {
    g_value_set_string (&v, text);
    ok = true;
  } else {
    std::string t (text);
    if (G_IS_PARAM_SPEC_FLAGS (ps))
      for (char &c : t)
        if (c == ',')
          c = '+';
    ok = !t.empty () && gst_value_deserialize (&v, t.c_str ());
    if (ok && g_param_value_validate (ps, &v))
      ok = false;               /* out of range: validation changed it */
  }
  if (ok)
    g_object_set_property (G_OBJECT (element), prop, &v);
  else
    *error = std::string ("invalid --") + option + " '" + text + "': expected " +
        expected_values (ps);
  g_value_unset (&v);
  return ok;
}

/* Whether flag `nick` is set in the flags property `prop`. */
bool
has_flag (GstElement * element, const char *prop, const char *nick)
{
  GParamSpec *ps = g_object_class_find_property (G_OBJECT_GET_CLASS (element), prop);
  if (!ps || !G_IS_PARAM_SPEC_FLAGS (ps))
    return false;
  guint flags = 0;
  g_object_get (element, prop, &flags, NULL);
  GFlagsValue *fv = g_flags_get_value_by_nick (G_PARAM_SPEC_FLAGS (ps)->flags_class, nick);
  return fv && (flags & fv->value);
}

void
release_warnings (App * app)
{
  if (app->warnings_released)
    return;
  app->warnings_released = true;
  for (const std::string & w : app->pending_warnings)
    app->progress->print (w);
  app->pending_warnings.clear ();
}

void
fail (App * app, const std::string & message, const std::string & debug)
{
  if (app->failed)
    return;
  app->failed = true;
  app->error = message;
  app->error_debug = debug;
  g_main_loop_quit (app->loop);
}

/* Frames at the sink, for the progress. */
GstPadProbeReturn
count_frames (GstPad *, GstPadProbeInfo * info, gpointer user_data)
{
  App *app = static_cast<App *> (user_data);
  guint n = 1;
  GstBuffer *last = nullptr;
  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
    n = gst_buffer_list_length (list);
    last = n ? gst_buffer_list_get (list, n - 1) : nullptr;
  } else {
    last = GST_PAD_PROBE_INFO_BUFFER (info);
  }
  app->frames += n;
  if (last && GST_BUFFER_PTS_IS_VALID (last))
    app->position = GST_BUFFER_PTS (last);
  return GST_PAD_PROBE_OK;
}

/* Size and frame rate from the caps at the first analyser. */
void
read_stream_info (App * app)
{
  if (app->results.width > 0 || !app->first)
    return;
  GstPad *pad = gst_element_get_static_pad (app->first, app->first_sink);
  GstCaps *caps = gst_pad_get_current_caps (pad);
  gst_object_unref (pad);
  if (!caps)
    return;
  GstVideoInfo info;
  if (gst_video_info_from_caps (&info, caps)) {
    app->results.width = GST_VIDEO_INFO_WIDTH (&info);
    app->results.height = GST_VIDEO_INFO_HEIGHT (&info);
    app->results.fps_n = GST_VIDEO_INFO_FPS_N (&info);
    app->results.fps_d = GST_VIDEO_INFO_FPS_D (&info);
  }
  gst_caps_unref (caps);
}

/* Frames expected: the duration times the frame rate (0: unknown). */
void
query_total (App * app)
{
  read_stream_info (app);
  gint64 dur = -1;
  if (!gst_element_query_duration (app->pipeline, GST_FORMAT_TIME, &dur) || dur <= 0)
    return;
  app->duration = dur;
  const Results & r = app->results;
  if (r.fps_n > 0 && r.fps_d > 0)
    app->total = gst_util_uint64_scale_round (dur, r.fps_n, (guint64) r.fps_d * GST_SECOND);
  app->progress->set_total (app->total, app->duration);
}

GstClockTime
get_time (const GstStructure * s, const char *field)
{
  guint64 t = GST_CLOCK_TIME_NONE;
  if (!gst_structure_get_uint64 (s, field, &t))
    return GST_CLOCK_TIME_NONE;
  return t;
}

double
get_double (const GstStructure * s, const char *field)
{
  double v = kNaN;
  if (!gst_structure_get_double (s, field, &v))
    return kNaN;
  return v;
}

std::string
get_string (const GstStructure * s, const char *field)
{
  const gchar *v = gst_structure_get_string (s, field);
  return v ? v : "";
}

Stats
get_stats (const GstStructure * s, const char *prefix, guint64 count)
{
  Stats st;
  const std::string p (prefix);
  st.count = count;
  st.mean = get_double (s, (p + "-mean").c_str ());
  st.min = get_double (s, (p + "-min").c_str ());
  st.max = get_double (s, (p + "-max").c_str ());
  st.p95 = get_double (s, (p + "-p95").c_str ());
  return st;
}

void
on_element_message (App * app, GstMessage * msg)
{
  const GstStructure *s = gst_message_get_structure (msg);
  GstObject *src = GST_MESSAGE_SRC (msg);

  if (gst_is_missing_plugin_message (msg)) {
    gchar *desc = gst_missing_plugin_message_get_description (msg);
    std::lock_guard < std::mutex > g (app->lock);
    app->missing.push_back (desc ? desc : "a plugin");
    g_free (desc);
    return;
  }

  if (app->metrics && src == GST_OBJECT (app->metrics)) {
    if (gst_structure_has_name (s, "s2smetrics") || gst_structure_has_name (s, "s2scompare")) {
      MetricRow r;
      gst_structure_get_uint64 (s, "frame", &r.frame);
      r.pts = get_time (s, "timestamp");
      r.stream_time = get_time (s, "stream-time");
      r.mse = get_double (s, "mse");
      r.inv_ssim = get_double (s, "inv-ssim");
      r.lpips = get_double (s, "lpips");
      r.weighted = get_double (s, "weighted");
      r.psnr = get_double (s, "psnr");
      r.ssim = gst_structure_has_field (s, "ssim") ? get_double (s, "ssim") : 1.0 - r.inv_ssim;
      r.status = get_string (s, "status");
      r.reason = get_string (s, "reason");
      app->results.rows.push_back (std::move (r));
      release_warnings (app);
      app->progress->update (app->frames, app->position);
    } else if (gst_structure_has_name (s, "s2smetrics-summary")
        || gst_structure_has_name (s, "s2scompare-summary")) {
      guint64 pairs = 0;
      gst_structure_get_uint64 (s, "frames", &pairs);
      app->results.have_summary = true;
      app->results.summary_pairs = pairs;
      for (int m = kMse; m < kMusiq; ++m) {
        const Metric metric = (Metric) m;
        app->results.summary[m] = get_stats (s, metric_info (metric).field, 0);
        app->results.summary[m].count = compute_stats (app->results.series (metric)).count;
      }
    }
  } else if (app->musiq && src == GST_OBJECT (app->musiq)) {
    if (gst_structure_has_name (s, "musiqscore")) {
      MusiqRow r;
      gst_structure_get_uint64 (s, "frame", &r.frame);
      r.pts = get_time (s, "timestamp");
      r.stream_time = get_time (s, "stream-time");
      r.score = get_double (s, "score");
      r.status = get_string (s, "status");
      app->results.musiq.push_back (std::move (r));
      release_warnings (app);
    } else if (gst_structure_has_name (s, "musiqscore-summary")) {
      app->results.have_musiq_summary = true;
      app->results.musiq_summary = get_stats (s, "score", 0);
      app->results.musiq_summary.count = compute_stats (app->results.series (kMusiq)).count;
    }
  }
}

/* The one line for a pipeline error, in the user's terms where we can. */
std::string
describe_error (App * app, GstMessage * msg, GError * err, const gchar * debug)
{
  std::string where = app->input.empty ()? std::string ("pipeline") : app->input;
  std::string missing;
  {
    std::lock_guard < std::mutex > g (app->lock);
    for (const std::string & m : app->missing)
      missing += (missing.empty ()? "" : ", ") + m;
  }
  if (g_error_matches (err, GST_STREAM_ERROR, GST_STREAM_ERROR_TYPE_NOT_FOUND))
    return where + ": not a media file GStreamer can read (could not determine its type)";
  if (!missing.empty () &&
      (g_error_matches (err, GST_CORE_ERROR, GST_CORE_ERROR_MISSING_PLUGIN) ||
          g_error_matches (err, GST_STREAM_ERROR, GST_STREAM_ERROR_CODEC_NOT_FOUND)))
    return where + ": cannot decode it: no GStreamer plugin for " + missing;
  if (err->domain == GST_RESOURCE_ERROR && app->source
      && GST_MESSAGE_SRC (msg) == GST_OBJECT (app->source)
      && (err->code == GST_RESOURCE_ERROR_NOT_FOUND || err->code == GST_RESOURCE_ERROR_OPEN_READ
          || err->code == GST_RESOURCE_ERROR_READ))
    return where + ": cannot read it: " + err->message;
  GstObject *src = GST_MESSAGE_SRC (msg);
  if (src && ((app->metrics && src == GST_OBJECT (app->metrics))
          || (app->musiq && src == GST_OBJECT (app->musiq))))
    return std::string (GST_OBJECT_NAME (gst_element_get_factory (GST_ELEMENT (src)))) + ": "
        + err->message;
  std::string element = src ? GST_OBJECT_NAME (src) : "?";
  if (debug && strstr (debug, "not-negotiated"))
    return where + ": the video could not be negotiated with the analysers (is it raw video "
        "in a format videoconvert can convert?) (" + element + ")";
  if (err->domain == GST_STREAM_ERROR && !app->input.empty ()
      && (err->code == GST_STREAM_ERROR_DEMUX || err->code == GST_STREAM_ERROR_DECODE
          || err->code == GST_STREAM_ERROR_WRONG_TYPE))
    return where + ": cannot decode it: " + err->message + " (" + element + ")";
  return where + ": " + err->message + " (" + element + ")";
}

gboolean
on_bus_message (GstBus *, GstMessage * msg, gpointer user_data)
{
  App *app = static_cast<App *> (user_data);
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT:
      on_element_message (app, msg);
      break;
    case GST_MESSAGE_ERROR:{
      GError *err = nullptr;
      gchar *debug = nullptr;
      gst_message_parse_error (msg, &err, &debug);
      fail (app, describe_error (app, msg, err, debug), debug ? debug : "");
      g_clear_error (&err);
      g_free (debug);
      break;
    }
    case GST_MESSAGE_WARNING:{
      GError *err = nullptr;
      gchar *debug = nullptr;
      gst_message_parse_warning (msg, &err, &debug);
      std::string line = app->program + ": warning: " + err->message;
      if (app->verbose && debug)
        line += std::string ("\n  ") + debug;
      gchar *path = gst_object_get_path_string (GST_MESSAGE_SRC (msg));
      /* Each warning once, however often it is posted. */
      if (app->seen_warnings.insert (std::string (path) + "\n" + err->message).second
          && !app->quiet) {
        if (app->warnings_released)
          app->progress->print (line);
        else
          app->pending_warnings.push_back (line);
      }
      g_free (path);
      g_clear_error (&err);
      g_free (debug);
      break;
    }
    case GST_MESSAGE_APPLICATION:
      if (gst_message_has_name (msg, kNoVideoMessage)) {
        std::string what = app->input + ": no video stream";
        {
          std::lock_guard < std::mutex > g (app->lock);
          std::string found, missing;
          for (const std::string & s : app->other_streams)
            found += (found.empty ()? "" : ", ") + s;
          for (const std::string & m : app->missing)
            missing += (missing.empty ()? "" : ", ") + m;
          if (!missing.empty ())
            what = app->input + ": cannot decode its video: no GStreamer plugin for " + missing;
          else if (!found.empty ())
            what += " (found: " + found + ")";
        }
        fail (app, what);
      }
      break;
    case GST_MESSAGE_ASYNC_DONE:
    case GST_MESSAGE_DURATION_CHANGED:
      query_total (app);
      break;
    case GST_MESSAGE_EOS:
      app->eos = true;
      g_main_loop_quit (app->loop);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------------ */
/* decodebin                                                                */
/* ------------------------------------------------------------------------ */

bool
is_nvdec (GstElementFactory * f)
{
  const gchar *plugin = gst_plugin_feature_get_plugin_name (GST_PLUGIN_FEATURE (f));
  return plugin && strcmp (plugin, "nvcodec") == 0;
}

bool
is_video_decoder (GstElementFactory * f)
{
  const gchar *klass = gst_element_factory_get_metadata (f, GST_ELEMENT_METADATA_KLASS);
  return klass && strstr (klass, "Decoder") && strstr (klass, "Video");
}

/* Raises (auto, on) or hides (off) the NVDEC decoders; returns how many
 * there are. Affects this process only. */
guint
apply_nvdec_preference (const std::string & mode)
{
  GList *decoders = gst_element_factory_list_get_elements (GST_ELEMENT_FACTORY_TYPE_DECODER |
      GST_ELEMENT_FACTORY_TYPE_MEDIA_VIDEO, GST_RANK_NONE);
  guint n = 0;
  for (GList * l = decoders; l; l = l->next) {
    GstElementFactory *f = GST_ELEMENT_FACTORY (l->data);
    if (!is_nvdec (f))
      continue;
    ++n;
    GstPluginFeature *feature = GST_PLUGIN_FEATURE (f);
    if (mode == "off")
      gst_plugin_feature_set_rank (feature, GST_RANK_NONE);
    else if (gst_plugin_feature_get_rank (feature) < GST_RANK_PRIMARY + 10)
      gst_plugin_feature_set_rank (feature, GST_RANK_PRIMARY + 10);
  }
  gst_plugin_feature_list_free (decoders);
  return n;
}

/* Decode video only: other streams are exposed as they are and dropped. */
gboolean
on_autoplug_continue (GstElement *, GstPad *, GstCaps * caps, gpointer)
{
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  const gchar *name = gst_structure_get_name (s);
  static const char *const skip[] = { "audio/", "text/", "subpicture/", "closedcaption/",
    "application/x-subtitle", "application/x-ssa", "application/x-ass", "application/x-teletext",
  };
  for (const char *prefix : skip)
    if (g_str_has_prefix (name, prefix))
      return FALSE;
  return TRUE;
}

gint
on_autoplug_select (GstElement *, GstPad *, GstCaps *, GstElementFactory * factory,
    gpointer user_data)
{
  App *app = static_cast<App *> (user_data);
  if (app->nvdec_only && is_video_decoder (factory) && !is_nvdec (factory))
    return kAutoplugSkip;
  return kAutoplugTry;
}

void
drop_stream (App * app, GstPad * pad)
{
  GstElement *sink = gst_element_factory_make ("fakesink", nullptr);
  g_object_set (sink, "sync", FALSE, "async", FALSE, NULL);
  gst_bin_add (GST_BIN (app->pipeline), sink);
  gst_element_sync_state_with_parent (sink);
  GstPad *sinkpad = gst_element_get_static_pad (sink, "sink");
  gst_pad_link (pad, sinkpad);
  gst_object_unref (sinkpad);
}

bool
caps_in_cuda_memory (GstCaps * caps)
{
  for (guint i = 0; i < gst_caps_get_size (caps); ++i) {
    GstCapsFeatures *f = gst_caps_get_features (caps, i);
    if (f && gst_caps_features_contains (f, "memory:CUDAMemory"))
      return true;
  }
  return false;
}

void
on_pad_added (GstElement *, GstPad * pad, gpointer user_data)
{
  App *app = static_cast<App *> (user_data);
  GstCaps *caps = gst_pad_get_current_caps (pad);
  if (!caps)
    caps = gst_pad_query_caps (pad, nullptr);
  const gchar *name = gst_caps_is_empty (caps) ? "unknown" :
      gst_structure_get_name (gst_caps_get_structure (caps, 0));

  std::unique_lock < std::mutex > g (app->lock);
  if (g_str_has_prefix (name, "video/x-raw") && !app->video_linked) {
    app->video_linked = true;
    g.unlock ();
    /* CUDA memory goes straight to an analyser that takes it; anything
     * else is converted to a format the analysers accept. */
    GstPad *target = nullptr;
    GstPad *first_sink = gst_element_get_static_pad (app->first, app->first_sink);
    if (caps_in_cuda_memory (caps) && gst_pad_query_accept_caps (first_sink, caps)) {
      GstPad *peer = gst_pad_get_peer (first_sink);
      if (peer) {
        gst_pad_unlink (peer, first_sink);
        gst_object_unref (peer);
      }
      target = GST_PAD (gst_object_ref (first_sink));
    } else
      target = gst_element_get_static_pad (app->convert, "sink");
    gst_object_unref (first_sink);
    const GstPadLinkReturn ret = gst_pad_link (pad, target);
    gst_object_unref (target);
    if (GST_PAD_LINK_FAILED (ret))
      GST_ELEMENT_ERROR (app->pipeline, CORE, NEGOTIATION,
          ("could not link the decoded video to the analysers (%s)",
              gst_pad_link_get_name (ret)), (nullptr));
  } else {
    app->other_streams.push_back (name);
    g.unlock ();
    drop_stream (app, pad);
  }
  gst_caps_unref (caps);
}

void
on_no_more_pads (GstElement *, gpointer user_data)
{
  App *app = static_cast<App *> (user_data);
  bool linked;
  {
    std::lock_guard < std::mutex > g (app->lock);
    linked = app->video_linked;
  }
  if (!linked)
    gst_element_post_message (app->pipeline, gst_message_new_application (GST_OBJECT
            (app->pipeline), gst_structure_new_empty (kNoVideoMessage)));
}

void
on_element_added (GstBin *, GstBin *, GstElement * element, gpointer user_data)
{
  App *app = static_cast<App *> (user_data);
  GstElementFactory *f = gst_element_get_factory (element);
  if (f && is_video_decoder (f)) {
    std::lock_guard < std::mutex > g (app->lock);
    if (app->decoder.empty ())
      app->decoder = GST_OBJECT_NAME (f);
  }
}

/* ------------------------------------------------------------------------ */
/* Building                                                                 */
/* ------------------------------------------------------------------------ */

/* videoconvert ! [s2smetrics] ! [musiqscore] ! fakesink. No queue: the
 * decoders have threads of their own, and frames held in a queue on top of
 * a batch could starve a decoder with a bounded pool. */
std::string
tail_description (bool with_metrics, bool with_musiq, bool reference)
{
  std::string d = std::string ("videoconvert name=") + kConvertName;
  if (reference)                /* the reference branch comes in build_pipeline */
    d = std::string ("s2scompare name=") + kMetricsName + " " + d + " ! " + kMetricsName
        + ".distorted " + kMetricsName + ".";
  else if (with_metrics)
    d += std::string (" ! s2smetrics name=") + kMetricsName;
  if (with_musiq)
    d += std::string (" ! musiqscore name=") + kMusiqName;
  d += std::string (" ! fakesink name=") + kSinkName + " sync=false";
  return d;
}

bool
build_pipeline (App * app, bool with_metrics, bool with_musiq, std::string * error)
{
  const std::string tail = tail_description (with_metrics, with_musiq,
      !app->reference_path.empty ());
  GError *err = nullptr;
  if (!app->launch.empty ()) {
    const std::string desc = app->launch + " ! " + tail;
    GstElement *p = gst_parse_launch_full (desc.c_str (), nullptr, GST_PARSE_FLAG_FATAL_ERRORS,
        &err);
    if (!p || err) {
      *error = std::string ("invalid --pipeline: ") + (err ? err->message : "cannot parse it");
      g_clear_error (&err);
      if (p)
        gst_object_unref (p);
      return false;
    }
    if (!GST_IS_PIPELINE (p)) {
      GstElement *wrapper = gst_pipeline_new (nullptr);
      gst_bin_add (GST_BIN (wrapper), p);
      p = wrapper;
    }
    app->pipeline = p;
  } else {
    /* The tail is a chain of its own, linked when decodebin shows its
     * video pad. The location is set as a property: no quoting. */
    const std::string desc = std::string ("filesrc name=") + kSourceName + " ! decodebin name="
        + kDecoderName + " " + tail;
    app->pipeline = gst_parse_launch_full (desc.c_str (), nullptr, GST_PARSE_FLAG_FATAL_ERRORS,
        &err);
    if (!app->pipeline || err) {
      *error = std::string ("cannot build the pipeline: ") + (err ? err->message : "?");
      g_clear_error (&err);
      return false;
    }
    app->source = gst_bin_get_by_name (GST_BIN (app->pipeline), kSourceName);
    GstElement *dec = gst_bin_get_by_name (GST_BIN (app->pipeline), kDecoderName);
    g_object_set (app->source, "location", app->input.c_str (), NULL);
    g_signal_connect (dec, "autoplug-continue", G_CALLBACK (on_autoplug_continue), app);
    g_signal_connect (dec, "autoplug-select", G_CALLBACK (on_autoplug_select), app);
    g_signal_connect (dec, "pad-added", G_CALLBACK (on_pad_added), app);
    g_signal_connect (dec, "no-more-pads", G_CALLBACK (on_no_more_pads), app);
    gst_object_unref (dec);
  }
  g_signal_connect (app->pipeline, "deep-element-added", G_CALLBACK (on_element_added), app);

  GstBin *bin = GST_BIN (app->pipeline);
  app->convert = gst_bin_get_by_name (bin, kConvertName);
  app->metrics = with_metrics ? gst_bin_get_by_name (bin, kMetricsName) : nullptr;
  app->musiq = with_musiq ? gst_bin_get_by_name (bin, kMusiqName) : nullptr;
  app->sink = gst_bin_get_by_name (bin, kSinkName);
  app->first = app->metrics ? app->metrics : app->musiq;
  if (!app->reference_path.empty ()) {
    app->first_sink = "distorted";
    if (!app->reference.add (bin, app->metrics, app->reference_path, error))
      return false;
  }

  GstPad *pad = gst_element_get_static_pad (app->sink, "sink");
  gst_pad_add_probe (pad, (GstPadProbeType) (GST_PAD_PROBE_TYPE_BUFFER |
          GST_PAD_PROBE_TYPE_BUFFER_LIST), count_frames, app, nullptr);
  gst_object_unref (pad);
  return true;
}

std::vector<GOptionEntry>
element_option_entries (ElementOptionValues & v, const char *metrics_help,
    const char *musiq_help)
{
  return {
    {"metrics", 'm', 0, G_OPTION_ARG_STRING, &v.metrics, metrics_help, "LIST"},
    {"batch-size", 'b', 0, G_OPTION_ARG_STRING, &v.batch_size,
        "Frames computed together, 1..256 (default 16)", "N"},
    {"device", 'd', 0, G_OPTION_ARG_STRING, &v.device, "auto, cuda or cpu (default auto)",
        "DEVICE"},
    {"cuda-device-id", 0, 0, G_OPTION_ARG_STRING, &v.cuda_device_id,
        "CUDA device, -1 = upstream's or 0 (default -1)", "ID"},
    {"precision", 0, 0, G_OPTION_ARG_STRING, &v.precision,
        "Network precision: fp32, fp16 or bf16 (default fp32)", "P"},
    {"conversion", 0, 0, G_OPTION_ARG_STRING, &v.conversion,
        "YUV to RGB/gray: service (as cv2.VideoCapture, default) or colorimetry (the caps')",
        "C"},
    {"lpips-model", 0, 0, G_OPTION_ARG_FILENAME, &v.lpips_model,
        "LPIPS weights (.safetensors)", "FILE"},
    {"lpips-size", 0, 0, G_OPTION_ARG_STRING, &v.lpips_size,
        "LPIPS input size, 0 = native (default 256)", "N"},
    {"ssim-window", 0, 0, G_OPTION_ARG_STRING, &v.ssim_window,
        "uniform7 or gaussian11 (default uniform7)", "W"},
    {"alpha", 0, 0, G_OPTION_ARG_STRING, &v.alpha, "Weight of MSE in weighted (0.5)", "A"},
    {"beta", 0, 0, G_OPTION_ARG_STRING, &v.beta, "Weight of InvSSIM in weighted (0.3)", "B"},
    {"gamma", 0, 0, G_OPTION_ARG_STRING, &v.gamma, "Weight of LPIPS in weighted (0.2)", "G"},
    {"musiq", 0, 0, G_OPTION_ARG_NONE, &v.musiq, musiq_help, nullptr},
    {"musiq-model", 0, 0, G_OPTION_ARG_FILENAME, &v.musiq_model,
        "MUSIQ weights (implies --musiq)", "FILE"},
    {"musiq-interval", 0, 0, G_OPTION_ARG_STRING, &v.musiq_interval,
        "Score every Nth frame with MUSIQ (implies --musiq)", "N"},
    {nullptr, 0, 0, G_OPTION_ARG_NONE, nullptr, nullptr, nullptr},
  };
}

std::vector<ElementOption>
element_options (const ElementOptionValues & v)
{
  return {
    {"device", "device", v.device, true, true},
    {"cuda-device-id", "cuda-device-id", v.cuda_device_id, true, true},
    {"batch-size", "batch-size", v.batch_size, true, true},
    {"precision", "precision", v.precision, true, true},
    {"conversion", "conversion", v.conversion, true, true},
    {"metrics", "metrics", v.metrics, true, false},
    {"lpips-model", "lpips-model", v.lpips_model, true, false},
    {"lpips-size", "lpips-size", v.lpips_size, true, false},
    {"ssim-window", "ssim-window", v.ssim_window, true, false},
    {"alpha", "alpha", v.alpha, true, false},
    {"beta", "beta", v.beta, true, false},
    {"gamma", "gamma", v.gamma, true, false},
    {"musiq-model", "model", v.musiq_model, false, true},
    {"musiq-interval", "interval", v.musiq_interval, false, true},
  };
}

/* Element options onto the analysers. */
bool
configure (App * app, const std::vector<ElementOption> & props, std::string * error)
{
  for (const ElementOption & p : props) {
    if (!p.value)
      continue;
    if (p.metrics && app->metrics && !set_from_text (app->metrics, p.prop, p.value, p.option,
            error))
      return false;
    if (p.musiq && app->musiq && !set_from_text (app->musiq, p.prop, p.value, p.option, error))
      return false;
  }

  if (app->metrics) {
    if (has_flag (app->metrics, "metrics", "mse")) {
      app->plotted.push_back (kMse);
      app->plotted.push_back (kPsnr);
    }
    /* Full reference: SSIM is what encoder people read. */
    if (has_flag (app->metrics, "metrics", "inv-ssim"))
      app->plotted.push_back (app->reference_path.empty () ? kInvSsim : kSsim);
    if (has_flag (app->metrics, "metrics", "lpips"))
      app->plotted.push_back (kLpips);
    app->plotted.push_back (kWeighted);
  }
  if (app->musiq)
    app->plotted.push_back (kMusiq);
  return true;
}

}  // namespace s2sa
