/*-------------------------------------------------------------------------
 * autostart.h
 *	  The file that remembers which databases run sync across restarts.
 *-------------------------------------------------------------------------
 */
#ifndef SYNC_AUTOSTART_H
#define SYNC_AUTOSTART_H

extern void sync_autostart_load(void);
extern void sync_autostart_save(void);

#endif							/* SYNC_AUTOSTART_H */
