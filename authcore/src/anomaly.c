/*
 * Anomaly rules over connection log entries: bursts of failures per IP,
 * per account and per partner, of second-factor failures per account,
 * many accounts from one IP, throttling, and successes from a new IP or
 * device (docs/SECURITY-TEAM.md).
 *
 * Entries are reduced to small events whose strings are interned to
 * 32-bit ids; each windowed rule groups the events it matches by one
 * field, in time order, and slides a window over every group.
 */

#include <stdlib.h>
#include <string.h>

#include "authcore.h"


#define AC_AF_IP       0
#define AC_AF_TARGET   1
#define AC_AF_PARTNER  2

#define AC_ANOM_RULES  6


/* Strings interned to small ids (0: none). */
typedef struct {
    ac_buf_t    text;               /* NUL-terminated strings */
    size_t     *off;                /* id -> offset in text */
    size_t      n;                  /* ids in use, id 0 included */
    size_t      cap;
    uint32_t   *slots;              /* open addressing: id, 0 empty */
    size_t      nslots;
    int         oom;
} ac_strtab_t;

typedef struct {
    int64_t     t;
    uint64_t    seq;
    uint32_t    ip;
    uint32_t    target;             /* account id, else the typed email */
    uint32_t    partner;
    uint32_t    ua;
    uint8_t     kind;
    uint8_t     failed;
} ac_aev_t;

typedef struct {
    uint32_t    key;
    uint32_t    pos;
} ac_apair_t;

typedef struct {
    const char *rule;
    uint32_t    subject;
    int         subject_kind;
    uint64_t    count;
    int64_t     first;
    int64_t     last;
    int         details_kind;
    uint32_t    details[AC_ANOMALY_DETAILS];
    size_t      ndetails;
    uint64_t    more;
    uint32_t    ip;
    uint32_t    ua;
} ac_areport_t;

typedef struct {
    const char  *name;
    int          by;
    int          other;
    int          distinct;          /* count distinct "other", not events */
    uint32_t     threshold;
    int          (*match)(const ac_aev_t *ev);
} ac_arule_t;

struct ac_anomaly_s {
    int64_t          window_ms;
    ac_arule_t       rules[AC_ANOM_RULES];
    ac_strtab_t      tab;
    ac_aev_t        *ev;
    size_t           nev;
    size_t           cap;
    ac_areport_t    *rep;
    size_t           nrep;
    size_t           caprep;
    uint64_t        *set;           /* (account, ip|ua) pairs seen */
    size_t           nset;
    size_t           usedset;
    uint32_t        *count;         /* per string id, within a window */
    int              done;
};


static const char  *ac_af_name[] = { "ip", "account", "partner" };


static size_t
ac_anom_hash(const char *s)
{
    size_t  h;

    /* FNV-1a */
    h = 2166136261u;

    while (*s != '\0') {
        h = (h ^ (unsigned char) *s++) * 16777619u;
    }

    return h;
}


static uint32_t
ac_str_id(ac_strtab_t *tab, const char *s)
{
    size_t     i, j, len, size, *off;
    uint32_t  *slots, id;

    if (s[0] == '\0' || tab->oom || strcmp(s, AC_LOG_ERASED) == 0) {
        return 0;
    }

    if ((tab->n + 1) * 2 >= tab->nslots) {
        size = tab->nslots ? tab->nslots * 2 : 1024;
        slots = calloc(size, sizeof(uint32_t));
        if (slots == NULL) {
            tab->oom = 1;
            return 0;
        }

        for (i = 0; i < tab->nslots; i++) {
            if (tab->slots[i] != 0) {
                j = ac_anom_hash(tab->text.data + tab->off[tab->slots[i]])
                    & (size - 1);
                while (slots[j] != 0) {
                    j = (j + 1) & (size - 1);
                }
                slots[j] = tab->slots[i];
            }
        }

        free(tab->slots);
        tab->slots = slots;
        tab->nslots = size;
    }

    i = ac_anom_hash(s) & (tab->nslots - 1);

    while ((id = tab->slots[i]) != 0) {
        if (strcmp(tab->text.data + tab->off[id], s) == 0) {
            return id;
        }
        i = (i + 1) & (tab->nslots - 1);
    }

    if (tab->n == 0) {
        tab->n = 1;                  /* id 0 stands for none */
    }

    if (tab->n >= tab->cap) {
        size = tab->cap ? tab->cap * 2 : 1024;
        off = realloc(tab->off, size * sizeof(size_t));
        if (off == NULL) {
            tab->oom = 1;
            return 0;
        }
        tab->off = off;
        tab->cap = size;
    }

    len = strlen(s);
    tab->off[tab->n] = tab->text.len;
    ac_buf_add(&tab->text, s, len + 1);

    if (ac_buf_status(&tab->text) != AC_OK) {
        tab->oom = 1;
        return 0;
    }

    tab->slots[i] = (uint32_t) tab->n;

    return (uint32_t) tab->n++;
}


static const char *
ac_str(const ac_strtab_t *tab, uint32_t id)
{
    return id == 0 ? "" : tab->text.data + tab->off[id];
}


static int
ac_arule_fail(const ac_aev_t *ev)
{
    return ev->failed && ev->kind != AC_EV_THROTTLED;
}


static int
ac_arule_attempt(const ac_aev_t *ev)
{
    return ev->kind != AC_EV_THROTTLED;
}


static int
ac_arule_sso_fail(const ac_aev_t *ev)
{
    return ev->kind == AC_EV_SSO_FAILURE;
}


static int
ac_arule_second_factor(const ac_aev_t *ev)
{
    return ev->kind == AC_EV_2FA_FAILURE;
}


static int
ac_arule_throttled(const ac_aev_t *ev)
{
    return ev->kind == AC_EV_THROTTLED;
}


int
ac_anomaly_new(const ac_config_t *cfg, ac_anomaly_t **out)
{
    ac_anomaly_t  *an;

    *out = NULL;

    if (cfg == NULL) {
        return AC_ERR_INVALID;
    }

    an = calloc(1, sizeof(ac_anomaly_t));
    if (an == NULL) {
        return AC_ERR_NOMEM;
    }

    ac_buf_init(&an->tab.text);
    an->window_ms = cfg->anomaly_window * 1000;

    an->rules[0] = (ac_arule_t) { "ip_failures", AC_AF_IP, AC_AF_TARGET, 0,
                                  cfg->anomaly_ip_failures, ac_arule_fail };
    an->rules[1] = (ac_arule_t) { "account_failures", AC_AF_TARGET,
                                  AC_AF_IP, 0,
                                  cfg->anomaly_account_failures,
                                  ac_arule_fail };
    an->rules[2] = (ac_arule_t) { "credential_stuffing", AC_AF_IP,
                                  AC_AF_TARGET, 1, cfg->anomaly_ip_accounts,
                                  ac_arule_attempt };
    an->rules[3] = (ac_arule_t) { "partner_sso_failures", AC_AF_PARTNER,
                                  AC_AF_IP, 0,
                                  cfg->anomaly_partner_failures,
                                  ac_arule_sso_fail };
    an->rules[4] = (ac_arule_t) { "throttled", AC_AF_IP, AC_AF_TARGET, 0, 1,
                                  ac_arule_throttled };
    an->rules[5] = (ac_arule_t) { "second_factor_burst", AC_AF_TARGET,
                                  AC_AF_IP, 0,
                                  cfg->anomaly_second_factor_failures,
                                  ac_arule_second_factor };

    *out = an;

    return AC_OK;
}


void
ac_anomaly_free(ac_anomaly_t *an)
{
    if (an == NULL) {
        return;
    }

    ac_buf_free(&an->tab.text);
    free(an->tab.off);
    free(an->tab.slots);

    if (an->ev != NULL) {
        ac_cleanse(an->ev, an->cap * sizeof(ac_aev_t));
        free(an->ev);
    }

    free(an->rep);
    free(an->set);
    free(an->count);
    free(an);
}


int
ac_anomaly_add(ac_anomaly_t *an, const ac_log_entry_t *e)
{
    size_t            i, cap;
    char              email[AC_EMAIL_MAX + 1];
    ac_aev_t         *ev;
    ac_event_kind_t   k;

    if (an->done) {
        return AC_ERR_INVALID;
    }

    if (ac_event_parse(e->event, strlen(e->event), &k) != AC_OK) {
        return AC_OK;
    }

    if (k != AC_EV_LOGIN_SUCCESS && k != AC_EV_LOGIN_FAILURE
        && k != AC_EV_2FA_SUCCESS && k != AC_EV_2FA_FAILURE
        && k != AC_EV_SSO_SUCCESS && k != AC_EV_SSO_FAILURE
        && k != AC_EV_THROTTLED)
    {
        return AC_OK;
    }

    if (an->nev == an->cap) {
        cap = an->cap ? an->cap * 2 : 1024;
        if (cap > UINT32_MAX) {
            return AC_ERR_NOMEM;
        }

        ev = realloc(an->ev, cap * sizeof(ac_aev_t));
        if (ev == NULL) {
            return AC_ERR_NOMEM;
        }
        an->ev = ev;
        an->cap = cap;
    }

    ev = &an->ev[an->nev];
    memset(ev, 0, sizeof(*ev));
    ev->t = e->time_ms;
    ev->seq = e->seq;
    ev->kind = (uint8_t) k;
    ev->failed = (uint8_t) (e->failed != 0);
    ev->partner = ac_str_id(&an->tab, e->partner);

    if (!e->erased) {
        ev->ip = ac_str_id(&an->tab, e->ip);
        ev->ua = ac_str_id(&an->tab, e->ua);
    }

    if (e->account[0] != '\0') {
        ev->target = ac_str_id(&an->tab, e->account);

    } else {
        /* typed emails compare case-insensitively */
        for (i = 0; i < AC_EMAIL_MAX && e->email[i] != '\0'; i++) {
            email[i] = e->email[i];
            if (email[i] >= 'A' && email[i] <= 'Z') {
                email[i] += 'a' - 'A';
            }
        }
        email[i] = '\0';

        ev->target = ac_str_id(&an->tab, email);
    }

    if (an->tab.oom) {
        return AC_ERR_NOMEM;
    }

    an->nev++;

    return AC_OK;
}


static int
ac_aev_cmp(const void *a, const void *b)
{
    const ac_aev_t  *x = a, *y = b;

    if (x->t != y->t) {
        return x->t < y->t ? -1 : 1;
    }

    return x->seq < y->seq ? -1 : x->seq > y->seq;
}


static uint32_t
ac_afield(const ac_aev_t *ev, int field)
{
    return field == AC_AF_IP ? ev->ip
           : field == AC_AF_TARGET ? ev->target : ev->partner;
}


static int
ac_apair_cmp(const void *a, const void *b)
{
    const ac_apair_t  *x = a, *y = b;

    if (x->key != y->key) {
        return x->key < y->key ? -1 : 1;
    }

    return x->pos < y->pos ? -1 : x->pos > y->pos;
}


static ac_areport_t *
ac_anom_report(ac_anomaly_t *an)
{
    size_t         cap;
    ac_areport_t  *rep;

    if (an->nrep == an->caprep) {
        cap = an->caprep ? an->caprep * 2 : 64;
        rep = realloc(an->rep, cap * sizeof(ac_areport_t));
        if (rep == NULL) {
            return NULL;
        }
        an->rep = rep;
        an->caprep = cap;
    }

    rep = &an->rep[an->nrep++];
    memset(rep, 0, sizeof(*rep));

    return rep;
}


/*
 * One windowed rule: the events it matches grouped by "by" in time
 * order; two pointers keep the window, a count per "other" id gives the
 * distinct values in it. A group is reported once, with its busiest
 * window.
 */
static int
ac_anom_rule(ac_anomaly_t *an, const ac_arule_t *rule, ac_apair_t *p)
{
    size_t         i, j, a, b, n, best_i, best_j;
    uint32_t       o;
    uint64_t       metric, best, distinct;
    ac_aev_t      *ev;
    ac_areport_t  *rep;

    n = 0;

    for (i = 0; i < an->nev; i++) {
        ev = &an->ev[i];
        if (rule->match(ev) && ac_afield(ev, rule->by) != 0) {
            p[n].key = ac_afield(ev, rule->by);
            p[n].pos = (uint32_t) i;
            n++;
        }
    }

    qsort(p, n, sizeof(ac_apair_t), ac_apair_cmp);

    for (a = 0; a < n; a = b) {
        for (b = a; b < n && p[b].key == p[a].key; b++) {
            /* void */
        }

        best = 0;
        best_i = best_j = a;
        distinct = 0;
        i = a;

        for (j = a; j < b; j++) {
            while (an->ev[p[j].pos].t - an->ev[p[i].pos].t > an->window_ms) {
                o = ac_afield(&an->ev[p[i].pos], rule->other);
                if (o != 0 && --an->count[o] == 0) {
                    distinct--;
                }
                i++;
            }

            o = ac_afield(&an->ev[p[j].pos], rule->other);
            if (o != 0 && an->count[o]++ == 0) {
                distinct++;
            }

            metric = rule->distinct ? distinct : j - i + 1;

            if (metric > best) {
                best = metric;
                best_i = i;
                best_j = j;
            }
        }

        for ( /* void */ ; i < b; i++) {
            o = ac_afield(&an->ev[p[i].pos], rule->other);
            if (o != 0) {
                an->count[o]--;
            }
        }

        if (best < rule->threshold || best == 0) {
            continue;
        }

        rep = ac_anom_report(an);
        if (rep == NULL) {
            return AC_ERR_NOMEM;
        }

        rep->rule = rule->name;
        rep->subject = p[a].key;
        rep->subject_kind = rule->by;
        rep->details_kind = rule->other;
        rep->count = best;
        rep->first = an->ev[p[best_i].pos].t;
        rep->last = an->ev[p[best_j].pos].t;

        /* the distinct others of the busiest window, in order seen */
        for (i = best_i; i <= best_j; i++) {
            o = ac_afield(&an->ev[p[i].pos], rule->other);
            if (o == 0 || an->count[o]++ != 0) {
                continue;
            }

            if (rep->ndetails < AC_ANOMALY_DETAILS) {
                rep->details[rep->ndetails++] = o;

            } else {
                rep->more++;
            }
        }

        for (i = best_i; i <= best_j; i++) {
            o = ac_afield(&an->ev[p[i].pos], rule->other);
            if (o != 0) {
                an->count[o] = 0;
            }
        }
    }

    return AC_OK;
}


/* Inserts into the pair set; 1 when it was not there, 0 when it was. */
static int
ac_aset_add(ac_anomaly_t *an, uint64_t v)
{
    size_t     i, k, size;
    uint64_t  *set;

    if ((an->usedset + 1) * 2 >= an->nset) {
        size = an->nset ? an->nset * 2 : 1024;
        set = calloc(size, sizeof(uint64_t));
        if (set == NULL) {
            return -1;
        }

        for (i = 0; i < an->nset; i++) {
            if (an->set[i] != 0) {
                k = (size_t) ((an->set[i] * 0x9e3779b97f4a7c15ull) >> 20);

                while (set[k & (size - 1)] != 0) {
                    k++;
                }
                set[k & (size - 1)] = an->set[i];
            }
        }

        free(an->set);
        an->set = set;
        an->nset = size;
    }

    i = (size_t) ((v * 0x9e3779b97f4a7c15ull) >> 20);

    while (an->set[i & (an->nset - 1)] != 0) {
        if (an->set[i & (an->nset - 1)] == v) {
            return 0;
        }
        i++;
    }

    an->set[i & (an->nset - 1)] = v;
    an->usedset++;

    return 1;
}


/*
 * A success for an account from an IP, or else a user agent, that none
 * of its earlier successes came from. The first success seen has
 * nothing to compare with and is not reported.
 */
static int
ac_anom_new(ac_anomaly_t *an)
{
    int            had, new_ip, new_ua;
    size_t         i;
    uint64_t       acct;
    ac_aev_t      *ev;
    ac_areport_t  *rep;

    for (i = 0; i < an->nev; i++) {
        ev = &an->ev[i];

        if (ev->failed || ev->kind == AC_EV_THROTTLED || ev->target == 0
            || ev->ip == 0)
        {
            continue;
        }

        acct = (uint64_t) ev->target << 32;

        had = ac_aset_add(an, acct | 0x7fffffff);
        new_ip = ac_aset_add(an, acct | ev->ip);
        new_ua = ev->ua ? ac_aset_add(an, acct | 0x80000000u | ev->ua) : 0;

        if (had < 0 || new_ip < 0 || new_ua < 0) {
            return AC_ERR_NOMEM;
        }

        if (had == 1 || (!new_ip && !new_ua)) {
            continue;
        }

        rep = ac_anom_report(an);
        if (rep == NULL) {
            return AC_ERR_NOMEM;
        }

        rep->rule = new_ip ? "new_ip" : "new_device";
        rep->subject = ev->target;
        rep->subject_kind = AC_AF_TARGET;
        rep->details_kind = AC_AF_IP;
        rep->count = 1;
        rep->first = rep->last = ev->t;
        rep->details[rep->ndetails++] = ev->ip;
        rep->ip = ev->ip;
        rep->ua = ev->ua;
    }

    return AC_OK;
}


int
ac_anomaly_run(ac_anomaly_t *an)
{
    int          rc;
    size_t       i;
    ac_apair_t  *p;

    if (an->done) {
        return AC_ERR_INVALID;
    }

    an->done = 1;

    if (an->nev > 1) {
        qsort(an->ev, an->nev, sizeof(ac_aev_t), ac_aev_cmp);
    }

    an->count = calloc(an->tab.n + 1, sizeof(uint32_t));
    p = malloc((an->nev + 1) * sizeof(ac_apair_t));

    if (an->count == NULL || p == NULL) {
        free(p);
        return AC_ERR_NOMEM;
    }

    rc = AC_OK;

    for (i = 0; i < AC_ANOM_RULES; i++) {
        rc = ac_anom_rule(an, &an->rules[i], p);
        if (rc != AC_OK) {
            goto failed;
        }
    }

    rc = ac_anom_new(an);

failed:

    free(p);

    return rc;
}


size_t
ac_anomaly_events(const ac_anomaly_t *an)
{
    return an->nev;
}


size_t
ac_anomaly_count(const ac_anomaly_t *an)
{
    return an->nrep;
}


int
ac_anomaly_get(const ac_anomaly_t *an, size_t i, ac_anomaly_finding_t *f)
{
    size_t               k;
    const ac_areport_t  *r;

    if (i >= an->nrep) {
        return AC_ERR_NOT_FOUND;
    }

    r = &an->rep[i];

    memset(f, 0, sizeof(*f));
    f->rule = r->rule;
    f->subject_kind = ac_af_name[r->subject_kind];
    f->subject = ac_str(&an->tab, r->subject);
    f->count = r->count;
    f->first_ms = r->first;
    f->last_ms = r->last;
    f->details_kind = ac_af_name[r->details_kind];

    for (k = 0; k < r->ndetails; k++) {
        f->details[k] = ac_str(&an->tab, r->details[k]);
    }

    f->ndetails = r->ndetails;
    f->more = r->more;
    f->ip = ac_str(&an->tab, r->ip);
    f->ua = ac_str(&an->tab, r->ua);

    return AC_OK;
}
