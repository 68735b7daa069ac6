/* Scenario recorder and invariant checks: see s2s_scenario.h. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "s2s_scenario.h"
#include "s2s-meta.h"

#include <string.h>

#define SEQ_CAPS "timestamp/x-s2s-test-seq"

/* ------------------------------------------------------------------------ */
/* Elements                                                                 */
/* ------------------------------------------------------------------------ */

static S2sElementDesc elements[2];
static guint n_elements;

static void
init_elements (void)
{
  if (n_elements > 0)
    return;
  elements[0] = (S2sElementDesc) {
    "s2smetrics", S2S_METRICS_META_NAME, "s2smetrics-summary", TRUE,
        g_strdup ("device=cpu metrics=mse+inv-ssim")};
  n_elements = 1;
  const gchar *musiq = g_getenv ("S2S_MUSIQ_WEIGHTS");
  GstElementFactory *f = gst_element_factory_find ("musiqscore");
  if (f && musiq && *musiq) {
    /* Small scales and a short native sequence keep MUSIQ quick on a CPU. */
    elements[1] = (S2sElementDesc) {
      "musiqscore", S2S_MUSIQ_SCORE_META_NAME, "musiqscore-summary", FALSE,
          g_strdup_printf ("device=cpu model=%s longer-side-lengths=32,48 max-seq-len=64", musiq)};
    n_elements = 2;
  }
  if (f)
    gst_object_unref (f);
}

guint
s2s_n_elements (void)
{
  init_elements ();
  return n_elements;
}

const S2sElementDesc *
s2s_element (guint i)
{
  init_elements ();
  g_assert (i < n_elements);    /* also used before Check forks */
  return &elements[i];
}

/* ------------------------------------------------------------------------ */
/* Leaks tracer                                                             */
/* ------------------------------------------------------------------------ */

static GstTracer *
leaks_tracer (void)
{
  GstTracer *found = NULL;
  GList *tracers = gst_tracing_get_active_tracers ();
  for (GList * l = tracers; l; l = l->next) {
    if (!found && g_str_equal (G_OBJECT_TYPE_NAME (l->data), "GstLeaksTracer"))
      found = gst_object_ref (l->data);
  }
  g_list_free_full (tracers, gst_object_unref);
  return found;
}

/* The tracer's activity tracking spans from the first open scenario to the
 * last one freed (tests may hold several, or run them in threads). Its
 * checkpoint lists the objects created since then that are still alive
 * (the tracer drops created objects from that list when they go away). */
static GMutex tracking_lock;
static guint open_scenarios;

static void
tracking_open (void)
{
  g_mutex_lock (&tracking_lock);
  if (open_scenarios++ == 0) {
    GstTracer *tracer = leaks_tracer ();
    if (tracer) {
      g_signal_emit_by_name (tracer, "activity-start-tracking");
      gst_object_unref (tracer);
    }
  }
  g_mutex_unlock (&tracking_lock);
}

/* Closes a scenario; after the last one, the objects still alive that were
 * created while scenarios were open ("Type@address ..."), or NULL. */
static gchar *
tracking_close (void)
{
  gchar *leaked = NULL;
  g_mutex_lock (&tracking_lock);
  if (--open_scenarios == 0) {
    GstTracer *tracer = leaks_tracer ();
    if (tracer) {
      GstStructure *cp = NULL;
      g_signal_emit_by_name (tracer, "activity-get-checkpoint", &cp);
      g_signal_emit_by_name (tracer, "activity-stop-tracking");
      gst_object_unref (tracer);
      /* Created minus removed, counted per address (addresses get reused). */
      GHashTable *net = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      static const struct
      {
        const gchar *field;
        gint sign;
      } lists[] = { {"objects-created-list", 1}, {"objects-removed-list", -1} };
      for (guint l = 0; l < G_N_ELEMENTS (lists); l++) {
        const GValue *v = cp ? gst_structure_get_value (cp, lists[l].field) : NULL;
        for (guint i = 0; v && i < gst_value_list_get_size (v); i++) {
          const GstStructure *o = gst_value_get_structure (gst_value_list_get_value (v, i));
          gchar *key = g_strdup_printf ("%s@%s", gst_structure_get_string (o, "type-name"),
              gst_structure_get_string (o, "address"));
          gint count = GPOINTER_TO_INT (g_hash_table_lookup (net, key)) + lists[l].sign;
          g_hash_table_insert (net, key, GINT_TO_POINTER (count));
        }
      }
      GString *list = g_string_new (NULL);
      GHashTableIter iter;
      gpointer key, count;
      guint n = 0;
      g_hash_table_iter_init (&iter, net);
      while (g_hash_table_iter_next (&iter, &key, &count)) {
        if (GPOINTER_TO_INT (count) > 0 && n++ < 12)
          g_string_append_printf (list, " %s", (const gchar *) key);
      }
      if (n > 12)
        g_string_append_printf (list, " and %u more", n - 12);
      g_hash_table_unref (net);
      leaked = g_string_free (list, list->len == 0);
      if (cp)
        gst_structure_free (cp);
    }
  }
  g_mutex_unlock (&tracking_lock);
  return leaked;
}

/* ------------------------------------------------------------------------ */
/* Records                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct
{
  gboolean is_buffer;
  guint64 seq;                  /* buffers: push order */
  GstEventType event_type;      /* events */
  guint32 seqnum;
  GstClockTime pts, dts, duration;
  guint64 offset, offset_end;
  guint flags;
  gboolean accepted;            /* input buffers: pushed with GST_FLOW_OK */
  GstStructure *result;         /* output buffers: their result meta, or NULL */
} Item;

typedef struct
{
  GMutex lock;
  GArray *in, *out;             /* of Item */
  guint out_buffers;
  guint64 next_seq;
  GPtrArray *messages;          /* per-frame result structures */
  guint summaries;
  gboolean eos_out;
  gboolean summary_after_eos;
  guint warnings, errors;
  GString *problems;
  GPtrArray *bad_messages;      /* texts of warnings/errors that break I4 */
  gpointer element_alive;       /* weak pointer */
  /* Downstream refuses buffers from this output index on (-1: never). */
  gint fail_from;
  GstFlowReturn fail_flow;
} Priv;

#define PRIV(sc) ((Priv *) (sc)->priv)

static void
clear_item (gpointer data)
{
  Item *it = data;
  if (it->result)
    gst_structure_free (it->result);
}

static Item
buffer_item (GstBuffer * buf, guint64 seq)
{
  Item it = { 0 };
  it.is_buffer = TRUE;
  it.seq = seq;
  it.pts = GST_BUFFER_PTS (buf);
  it.dts = GST_BUFFER_DTS (buf);
  it.duration = GST_BUFFER_DURATION (buf);
  it.offset = GST_BUFFER_OFFSET (buf);
  it.offset_end = GST_BUFFER_OFFSET_END (buf);
  it.flags = GST_BUFFER_FLAGS (buf);
  return it;
}

static GstCaps *
seq_caps (void)
{
  static GstCaps *caps;
  if (g_once_init_enter (&caps)) {
    GstCaps *c = gst_caps_new_empty_simple (SEQ_CAPS);
    GST_MINI_OBJECT_FLAG_SET (c, GST_MINI_OBJECT_FLAG_MAY_BE_LEAKED);
    g_once_init_leave (&caps, c);
  }
  return caps;
}

static gboolean
buffer_seq (GstBuffer * buf, guint64 * seq)
{
  GstReferenceTimestampMeta *m = gst_buffer_get_reference_timestamp_meta (buf, seq_caps ());
  if (!m)
    return FALSE;
  *seq = m->timestamp;
  return TRUE;
}

static GstPadProbeReturn
sink_probe (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  S2sScenario *sc = user_data;
  Priv *p = PRIV (sc);
  (void) pad;

  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
    g_mutex_lock (&p->lock);
    if (p->fail_from >= 0 && p->out_buffers >= (guint) p->fail_from) {
      const GstFlowReturn flow = p->fail_flow;
      g_mutex_unlock (&p->lock);
      gst_buffer_unref (buf);
      GST_PAD_PROBE_INFO_DATA (info) = NULL;
      GST_PAD_PROBE_INFO_FLOW_RETURN (info) = flow;
      return GST_PAD_PROBE_HANDLED;
    }
    guint64 seq = G_MAXUINT64;
    buffer_seq (buf, &seq);     /* a missing one fails the check later */
    Item it = buffer_item (buf, seq);
    const GstStructure *result = s2s_buffer_get_result (buf, sc->desc->meta_name);
    it.result = result ? gst_structure_copy (result) : NULL;
    g_array_append_val (p->out, it);
    p->out_buffers++;
    g_mutex_unlock (&p->lock);
  } else if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_EVENT_BOTH) {
    GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
    Item it = { 0 };
    it.event_type = GST_EVENT_TYPE (ev);
    it.seqnum = GST_EVENT_SEQNUM (ev);
    g_mutex_lock (&p->lock);
    g_array_append_val (p->out, it);
    if (it.event_type == GST_EVENT_EOS)
      p->eos_out = TRUE;
    else if (it.event_type == GST_EVENT_FLUSH_STOP || it.event_type == GST_EVENT_STREAM_START)
      p->eos_out = FALSE;       /* a new stream: its summary comes before its EOS */
    g_mutex_unlock (&p->lock);
  }
  return GST_PAD_PROBE_OK;
}

static GstBusSyncReply
bus_handler (GstBus * bus, GstMessage * msg, gpointer user_data)
{
  S2sScenario *sc = user_data;
  Priv *p = PRIV (sc);
  (void) bus;

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ELEMENT:{
      const GstStructure *s = gst_message_get_structure (msg);
      g_mutex_lock (&p->lock);
      if (gst_structure_has_name (s, sc->desc->factory))
        g_ptr_array_add (p->messages, gst_structure_copy (s));
      else if (gst_structure_has_name (s, sc->desc->summary_name)) {
        p->summaries++;
        if (p->eos_out)
          p->summary_after_eos = TRUE;
      }
      g_mutex_unlock (&p->lock);
      break;
    }
    case GST_MESSAGE_WARNING:
    case GST_MESSAGE_ERROR:{
      GError *err = NULL;
      gchar *dbg = NULL;
      const gboolean is_error = GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR;
      if (is_error)
        gst_message_parse_error (msg, &err, &dbg);
      else
        gst_message_parse_warning (msg, &err, &dbg);
      g_mutex_lock (&p->lock);
      if (is_error)
        p->errors++;
      else
        p->warnings++;
      g_string_append_printf (p->problems, "%s: %s (%s)\n", is_error ? "ERROR" : "WARNING",
          err ? err->message : "?", dbg ? dbg : "");
      /* I4: from the element, with a message and a debug text. */
      if (GST_MESSAGE_SRC (msg) != GST_OBJECT (sc->element) || !err || !err->message
          || !*err->message || !dbg || !*dbg)
        g_ptr_array_add (p->bad_messages, g_strdup_printf ("%s from %s: %s (%s)",
                is_error ? "ERROR" : "WARNING", GST_MESSAGE_SRC_NAME (msg),
                err ? err->message : "(none)", dbg ? dbg : "(none)"));
      g_mutex_unlock (&p->lock);
      g_clear_error (&err);
      g_free (dbg);
      break;
    }
    default:
      break;
  }
  return GST_BUS_PASS;
}

/* ------------------------------------------------------------------------ */
/* Scenario                                                                 */
/* ------------------------------------------------------------------------ */

void
s2s_set_properties (GstElement * e, const gchar * props)
{
  if (!props)
    return;
  gchar **kv = g_strsplit (props, " ", -1);
  for (guint i = 0; kv[i]; i++) {
    gchar *eq = strchr (kv[i], '=');
    if (eq) {
      *eq = '\0';
      gst_util_set_object_arg (G_OBJECT (e), kv[i], eq + 1);
    } else if (*kv[i]) {
      g_critical ("bad property '%s' (name=value expected)", kv[i]);  /* fatal in gstcheck */
    }
  }
  g_strfreev (kv);
}

S2sScenario *
s2s_scenario_new (const S2sElementDesc * desc, const gchar * props)
{
  S2sScenario *sc = g_new0 (S2sScenario, 1);
  Priv *p = g_new0 (Priv, 1);
  sc->priv = p;
  sc->desc = desc;
  g_mutex_init (&p->lock);
  p->in = g_array_new (FALSE, TRUE, sizeof (Item));
  p->out = g_array_new (FALSE, TRUE, sizeof (Item));
  g_array_set_clear_func (p->out, clear_item);
  p->messages = g_ptr_array_new_with_free_func ((GDestroyNotify) gst_structure_free);
  p->problems = g_string_new (NULL);
  p->bad_messages = g_ptr_array_new_with_free_func (g_free);
  p->fail_from = -1;
  seq_caps ();                  /* lives for the process: made before tracking */
  tracking_open ();

  GstElement *e = gst_element_factory_make (desc->factory, NULL);
  fail_unless (e != NULL, "could not make %s", desc->factory);
  gst_object_ref_sink (e);
  s2s_set_properties (e, desc->base_props);
  s2s_set_properties (e, props);
  sc->element = e;
  p->element_alive = e;
  g_object_add_weak_pointer (G_OBJECT (e), &p->element_alive);

  sc->bus = gst_bus_new ();
  gst_bus_set_sync_handler (sc->bus, bus_handler, sc, NULL);
  gst_element_set_bus (e, sc->bus);

  sc->h = gst_harness_new_with_element (e, "sink", "src");
  gst_object_unref (e);
  gst_pad_add_probe (sc->h->sinkpad, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM | GST_PAD_PROBE_TYPE_EVENT_FLUSH, sink_probe, sc, NULL);
  return sc;
}

void
s2s_scenario_fail_downstream (S2sScenario * sc, gint from_out, GstFlowReturn flow)
{
  Priv *p = PRIV (sc);
  g_mutex_lock (&p->lock);
  p->fail_from = from_out;
  p->fail_flow = flow;
  g_mutex_unlock (&p->lock);
}

gboolean
s2s_scenario_push_caps (S2sScenario * sc, const gchar * caps_str)
{
  GstCaps *caps = gst_caps_from_string (caps_str);
  fail_unless (caps != NULL, "bad caps %s", caps_str);
  GstEvent *event = gst_event_new_caps (caps);
  gst_caps_unref (caps);
  return s2s_scenario_push_event (sc, event);
}

void
s2s_scenario_start (S2sScenario * sc, const gchar * caps)
{
  GstSegment segment;
  gst_segment_init (&segment, GST_FORMAT_TIME);
  fail_unless (s2s_scenario_push_event (sc, gst_event_new_stream_start ("s2s-scenario")));
  fail_unless (s2s_scenario_push_caps (sc, caps), "caps %s refused", caps);
  fail_unless (s2s_scenario_push_event (sc, gst_event_new_segment (&segment)));
}

GstBuffer *
s2s_scenario_tag (S2sScenario * sc, GstBuffer * buffer)
{
  Priv *p = PRIV (sc);
  g_mutex_lock (&p->lock);
  const guint64 seq = p->next_seq++;
  g_mutex_unlock (&p->lock);
  buffer = gst_buffer_make_writable (buffer);
  gst_buffer_add_reference_timestamp_meta (buffer, seq_caps (), seq, GST_CLOCK_TIME_NONE);
  return buffer;
}

GstFlowReturn
s2s_scenario_push (S2sScenario * sc, GstBuffer * buffer)
{
  Priv *p = PRIV (sc);
  guint64 seq = G_MAXUINT64;
  if (!buffer_seq (buffer, &seq)) {
    buffer = s2s_scenario_tag (sc, buffer);
    buffer_seq (buffer, &seq);
  }
  Item it = buffer_item (buffer, seq);
  g_mutex_lock (&p->lock);
  g_array_append_val (p->in, it);
  const guint index = p->in->len - 1;
  g_mutex_unlock (&p->lock);

  const GstFlowReturn flow = gst_harness_push (sc->h, buffer);
  g_mutex_lock (&p->lock);
  g_array_index (p->in, Item, index).accepted = flow == GST_FLOW_OK;
  g_mutex_unlock (&p->lock);
  return flow;
}

gboolean
s2s_scenario_push_event (S2sScenario * sc, GstEvent * event)
{
  Priv *p = PRIV (sc);
  Item it = { 0 };
  it.event_type = GST_EVENT_TYPE (event);
  it.seqnum = GST_EVENT_SEQNUM (event);
  g_mutex_lock (&p->lock);
  g_array_append_val (p->in, it);
  g_mutex_unlock (&p->lock);
  return gst_harness_push_event (sc->h, event);
}

/* ------------------------------------------------------------------------ */
/* Frames                                                                   */
/* ------------------------------------------------------------------------ */

static guint
plane_rows (const GstVideoInfo * info, guint plane)
{
  gint comp[GST_VIDEO_MAX_COMPONENTS];
  gst_video_format_info_component (info->finfo, plane, comp);
  return GST_VIDEO_FORMAT_INFO_SCALE_HEIGHT (info->finfo, comp[0], GST_VIDEO_INFO_HEIGHT (info));
}

static GstBuffer *
make_frame (const gchar * caps_str, guint seed, guint i, guint pad, guint8 sentinel)
{
  GstCaps *caps = gst_caps_from_string (caps_str);
  GstVideoInfo info, padded;
  fail_unless (caps && gst_video_info_from_caps (&info, caps), "bad caps %s", caps_str);
  gst_caps_unref (caps);

  /* The padded layout: each stride `pad` bytes longer, planes packed. */
  padded = info;
  gsize size = 0;
  for (guint p = 0; p < GST_VIDEO_INFO_N_PLANES (&info); p++) {
    padded.stride[p] = info.stride[p] + (gint) pad;
    padded.offset[p] = size;
    size += (gsize) padded.stride[p] * plane_rows (&info, p);
  }
  padded.size = size;
  const GstVideoInfo *layout = pad ? &padded : &info;

  GstBuffer *buf = gst_buffer_new_allocate (NULL, layout->size, NULL);
  GstMapInfo map;
  fail_unless (gst_buffer_map (buf, &map, GST_MAP_WRITE));
  memset (map.data, sentinel, map.size);
  guint32 state = seed * 2654435761u + 0x9e3779b9u;
  const guint range = 24 + (seed * 53u) % 232u;
  for (guint p = 0; p < GST_VIDEO_INFO_N_PLANES (&info); p++) {
    for (guint y = 0; y < plane_rows (&info, p); y++) {
      guint8 *row = map.data + layout->offset[p] + (gsize) y * layout->stride[p];
      for (gint x = 0; x < info.stride[p]; x++) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        row[x] = (guint8) (((x + y) * 2 + p * 40 + (state >> 8) % range) & 0xff);
      }
    }
  }
  gst_buffer_unmap (buf, &map);
  if (pad)
    gst_buffer_add_video_meta_full (buf, GST_VIDEO_FRAME_FLAG_NONE, GST_VIDEO_INFO_FORMAT (&info),
        GST_VIDEO_INFO_WIDTH (&info), GST_VIDEO_INFO_HEIGHT (&info),
        GST_VIDEO_INFO_N_PLANES (&info), padded.offset, padded.stride);

  const GstClockTime dur = gst_util_uint64_scale_int (GST_SECOND, 1, 30);
  GST_BUFFER_PTS (buf) = i * dur;
  /* A DTS that differs from the PTS, to see that it is kept. */
  GST_BUFFER_DTS (buf) = i == 0 ? GST_CLOCK_TIME_NONE : i * dur - GST_MSECOND;
  GST_BUFFER_DURATION (buf) = dur;
  GST_BUFFER_OFFSET (buf) = i;
  GST_BUFFER_OFFSET_END (buf) = i + 1;
  return buf;
}

GstBuffer *
s2s_make_frame (const gchar * caps, guint seed, guint i)
{
  return make_frame (caps, seed, i, 0, 0);
}

GstBuffer *
s2s_make_padded_frame (const gchar * caps, guint seed, guint i, guint pad, guint8 sentinel)
{
  return make_frame (caps, seed, i, pad, sentinel);
}

void
s2s_scenario_push_frames (S2sScenario * sc, const gchar * caps, guint first, guint n)
{
  for (guint i = first; i < first + n; i++) {
    const GstFlowReturn flow = s2s_scenario_push (sc, s2s_make_frame (caps, i, i));
    fail_unless (flow == GST_FLOW_OK, "frame %u: %s", i, gst_flow_get_name (flow));
  }
}

/* ------------------------------------------------------------------------ */
/* Checks                                                                   */
/* ------------------------------------------------------------------------ */

static gboolean
is_serialized_type (GstEventType t)
{
  return (t & GST_EVENT_TYPE_SERIALIZED) != 0;
}

static gchar *
describe (const Item * it)
{
  if (it->is_buffer)
    return g_strdup_printf ("buffer #%" G_GUINT64_FORMAT, it->seq);
  return g_strdup_printf ("%s event (seqnum %u)", gst_event_type_get_name (it->event_type),
      it->seqnum);
}

static gboolean
same_item (const Item * a, const Item * b)
{
  if (a->is_buffer != b->is_buffer)
    return FALSE;
  return a->is_buffer ? a->seq == b->seq : (a->event_type == b->event_type
      && a->seqnum == b->seqnum);
}

/* I2: what the element must not touch. */
static void
check_buffer_fields (const Item * in, const Item * out)
{
  fail_unless (in->pts == out->pts && in->dts == out->dts && in->duration == out->duration,
      "buffer #%" G_GUINT64_FORMAT ": timestamps changed (pts %" GST_TIME_FORMAT " -> %"
      GST_TIME_FORMAT ", dts %" GST_TIME_FORMAT " -> %" GST_TIME_FORMAT ", duration %"
      GST_TIME_FORMAT " -> %" GST_TIME_FORMAT ")", in->seq, GST_TIME_ARGS (in->pts),
      GST_TIME_ARGS (out->pts), GST_TIME_ARGS (in->dts), GST_TIME_ARGS (out->dts),
      GST_TIME_ARGS (in->duration), GST_TIME_ARGS (out->duration));
  fail_unless (in->offset == out->offset && in->offset_end == out->offset_end,
      "buffer #%" G_GUINT64_FORMAT ": offsets changed", in->seq);
  fail_unless_equals_int_hex (out->flags, in->flags);
}

/* I6 on one result. */
static void
check_result (const gchar * what, guint64 seq, const GstStructure * r)
{
  const gchar *status = gst_structure_get_string (r, "status");
  fail_unless (status != NULL, "%s of buffer #%" G_GUINT64_FORMAT " has no status: %"
      GST_PTR_FORMAT, what, seq, r);
  fail_unless (g_str_equal (status, S2S_STATUS_OK) || g_str_equal (status, S2S_STATUS_PARTIAL)
      || g_str_equal (status, S2S_STATUS_SKIPPED) || g_str_equal (status, S2S_STATUS_ERROR),
      "unknown status %s", status);
  if (!g_str_equal (status, S2S_STATUS_OK)) {
    const gchar *reason = gst_structure_get_string (r, "reason");
    fail_unless (reason != NULL && *reason, "%s of buffer #%" G_GUINT64_FORMAT
        " has status %s but no reason", what, seq, status);
  }
}

void
s2s_scenario_check (S2sScenario * sc, S2sExpect expect)
{
  Priv *p = PRIV (sc);
  g_mutex_lock (&p->lock);

  /* What may come out: accepted buffers and serialized events (flush
   * events included), in push order. */
  GArray *want = g_array_new (FALSE, FALSE, sizeof (Item));
  for (guint i = 0; i < p->in->len; i++) {
    const Item *it = &g_array_index (p->in, Item, i);
    if (it->is_buffer ? it->accepted : (is_serialized_type (it->event_type)
            || it->event_type == GST_EVENT_FLUSH_START))
      g_array_append_val (want, *it);
  }
  /* What came out: buffers and the same kinds of events. */
  GArray *got = g_array_new (FALSE, FALSE, sizeof (Item));
  for (guint i = 0; i < p->out->len; i++) {
    const Item *it = &g_array_index (p->out, Item, i);
    if (it->is_buffer || is_serialized_type (it->event_type)
        || it->event_type == GST_EVENT_FLUSH_START)
      g_array_append_val (got, *it);
  }

  /* I1 + I3: `got` is `want` (ALL) or an in-order subsequence of it. */
  guint w = 0;
  for (guint g = 0; g < got->len; g++) {
    const Item *o = &g_array_index (got, Item, g);
    fail_unless (!o->is_buffer || o->seq != G_MAXUINT64,
        "a buffer lost its metas (no test sequence meta)");
    /* A sticky event sent again (core re-sends them to re-activated
     * pads) is not a new item. */
    if (!o->is_buffer && ((o->event_type & GST_EVENT_TYPE_STICKY) != 0)) {
      gboolean again = FALSE;
      for (guint k = 0; k < g && !again; k++)
        again = same_item (&g_array_index (got, Item, k), o);
      if (again)
        continue;
    }
    while (w < want->len && !same_item (&g_array_index (want, Item, w), o)) {
      gchar *missing = describe (&g_array_index (want, Item, w));
      gchar *instead = describe (o);
      fail_unless (expect == S2S_EXPECT_SUBSEQUENCE, "I1/I3: expected %s, got %s (output %u)",
          missing, instead, g);
      g_free (missing);
      g_free (instead);
      w++;
    }
    gchar *d = describe (o);
    fail_unless (w < want->len, "I1/I3: %s came out unexpectedly, twice or out of order", d);
    g_free (d);
    if (o->is_buffer)
      check_buffer_fields (&g_array_index (want, Item, w), o);
    w++;
  }
  if (expect == S2S_EXPECT_ALL && w < want->len) {
    gchar *d = describe (&g_array_index (want, Item, w));
    fail ("I1/I3: %s (and %u more) did not come out", d, want->len - w - 1);
    g_free (d);
  }

  /* I3: nothing after EOS (unless a flush reset it), summary before EOS. */
  gboolean after_eos = FALSE;
  for (guint g = 0; g < got->len; g++) {
    const Item *o = &g_array_index (got, Item, g);
    fail_unless (!(after_eos && o->is_buffer), "I3: buffer #%" G_GUINT64_FORMAT " after EOS",
        o->seq);
    if (!o->is_buffer && o->event_type == GST_EVENT_EOS)
      after_eos = TRUE;
    if (!o->is_buffer && (o->event_type == GST_EVENT_FLUSH_STOP
            || o->event_type == GST_EVENT_STREAM_START))
      after_eos = FALSE;
  }
  fail_if (p->summary_after_eos, "I3: the summary came after EOS");

  /* I6: every result says how it went; messages agree with metas. */
  for (guint g = 0; g < got->len; g++) {
    const Item *o = &g_array_index (got, Item, g);
    if (o->is_buffer && o->result)
      check_result ("meta", o->seq, o->result);
  }
  for (guint m = 0; m < p->messages->len; m++) {
    const GstStructure *s = g_ptr_array_index (p->messages, m);
    guint64 frame = G_MAXUINT64;
    fail_unless (gst_structure_get_uint64 (s, "frame", &frame), "message without frame");
    check_result ("message", frame, s);
  }

  g_array_unref (want);
  g_array_unref (got);
  g_mutex_unlock (&p->lock);
}

guint
s2s_scenario_n_out (S2sScenario * sc)
{
  Priv *p = PRIV (sc);
  guint n = 0;
  g_mutex_lock (&p->lock);
  for (guint i = 0; i < p->out->len; i++)
    n += g_array_index (p->out, Item, i).is_buffer ? 1 : 0;
  g_mutex_unlock (&p->lock);
  return n;
}

static const Item *
nth_out_buffer_locked (Priv * p, guint k)
{
  for (guint i = 0; i < p->out->len; i++) {
    const Item *it = &g_array_index (p->out, Item, i);
    if (it->is_buffer && k-- == 0)
      return it;
  }
  return NULL;
}

GstStructure *
s2s_scenario_out_result (S2sScenario * sc, guint k)
{
  Priv *p = PRIV (sc);
  g_mutex_lock (&p->lock);
  const Item *it = nth_out_buffer_locked (p, k);
  GstStructure *r = it && it->result ? gst_structure_copy (it->result) : NULL;
  g_mutex_unlock (&p->lock);
  fail_unless (it != NULL, "no output buffer %u", k);
  return r;
}

GPtrArray *
s2s_scenario_messages (S2sScenario * sc)
{
  return PRIV (sc)->messages;
}

guint
s2s_scenario_n_summaries (S2sScenario * sc)
{
  Priv *p = PRIV (sc);
  g_mutex_lock (&p->lock);
  const guint n = p->summaries;
  g_mutex_unlock (&p->lock);
  return n;
}

const gchar *
s2s_scenario_problems (S2sScenario * sc)
{
  return PRIV (sc)->problems->str;
}

void
s2s_scenario_free (S2sScenario * sc)
{
  Priv *p = PRIV (sc);

  gst_harness_teardown (sc->h);
  /* Queued messages hold refs on the element, which holds the bus. */
  gst_bus_set_flushing (sc->bus, TRUE);
  gst_bus_set_sync_handler (sc->bus, NULL, NULL, NULL);
  fail_unless (p->element_alive == NULL, "I5: the element was not finalized (leaked refs)");
  gst_object_unref (sc->bus);

  /* I4 */
  for (guint i = 0; i < p->bad_messages->len; i++)
    fail ("I4: unclear message: %s", (const gchar *) g_ptr_array_index (p->bad_messages, i));
  if (sc->expect_errors >= 0)
    fail_unless (p->errors == (guint) sc->expect_errors, "I4: %u errors, expected %d:\n%s",
        p->errors, sc->expect_errors, p->problems->str);
  if (sc->expect_warnings >= 0)
    fail_unless (p->warnings == (guint) sc->expect_warnings,
        "I4: %u warnings, expected %d:\n%s", p->warnings, sc->expect_warnings, p->problems->str);

  g_array_unref (p->in);
  g_array_unref (p->out);
  g_ptr_array_unref (p->messages);
  g_ptr_array_unref (p->bad_messages);
  g_string_free (p->problems, TRUE);
  g_mutex_clear (&p->lock);

  /* I5: nothing made while scenarios were open is still alive. */
  gchar *leaked = tracking_close ();
  fail_unless (leaked == NULL, "I5: the leaks tracer sees objects still alive:%s", leaked);
  g_free (p);
  g_free (sc);
}
