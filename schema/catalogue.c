/*
 * catalogue.c — the catalogue's data table.  See catalogue.h and
 * CATALOGUE.md; tests/server/test_tasks.c checks that every entry's quote
 * is on its seed line.
 */
#include "schema/catalogue.h"

#include <string.h>

#define N(a) (unsigned)(sizeof(a) / sizeof((a)[0]))

/* The seed's service hours "每天____:00-____:00", filled 07:00-19:00, are
 * the cleaners' window; equipment work and drills run 08:00-20:00. */
#define CLEAN "07:00", "19:00"
#define DAYTIME "08:00", "20:00"

static const char *const cl_tank[] = {
	"tank drained and scrubbed", "disinfected and rinsed",
	"water sample sent for testing", "test result filed", NULL};
static const char *const cl_plant[] = {
	"pumps running, no leaks", "switchgear and meters read",
	"tank levels normal", "log book signed", NULL};
static const char *const cl_survey[] = {
	"structure and facades", "roofs and drainage", "lifts",
	"fire equipment", "water and power plant", "repair plan written", NULL};
static const char *const cl_drill[] = {
	"residents notified in advance", "evacuation timed",
	"extinguishers demonstrated", "drill record filed", NULL};

static const catalogue_entry entries[] = {
	{"stair-sweep", "Stairwell sweep (楼道清扫)", "cleaner", "day", 2,
	 CLEAN, 0, "none", NULL, "stairwell", 13, "楼道清洁:清扫_____次/天"},
	{"stair-mop", "Stairwell mop (楼道拖洗)", "cleaner", "day", 1,
	 CLEAN, 0, "none", NULL, "stairwell", 13, "拖洗_____次/天"},
	{"public-sweep", "Public areas, green areas and roads swept "
	 "(公共场所、绿地、道路清扫)", "cleaner", "day", 2,
	 CLEAN, 0, "none", NULL, NULL, 13, "公共场所、绿地、道路:清扫_____次/天"},
	{"drains-signs-mailboxes", "Drains, signs and mailboxes cleaned "
	 "(沟渠池井、标识牌、信报箱清洁)", "cleaner", "week", 1,
	 CLEAN, 0, "none", NULL, NULL, 13, "沟渠池井、标识牌、信报箱:清洁_____次/周"},
	{"garbage", "Garbage removed, none left overnight (垃圾清运, 日产日清)",
	 "cleaner", "day", 1, CLEAN, 0, "none", NULL, NULL, 13,
	 "垃圾清运:____次/天"},
	{"pipes-dredge", "Rain and sewage pipes dredged (公共雨、污水管道疏通)",
	 "cleaner", "year", 1, CLEAN, 0, "photo", NULL, NULL, 13,
	 "公共雨、污水管道疏通:一次/年"},
	{"mosquito-summer", "Mosquito control, summer (蚊虫消杀, 夏)", "cleaner",
	 "month", 4, CLEAN, CAT_MONTHS(5, 10), "none", NULL, NULL, 13,
	 "蚊虫消杀____次/月(夏)"},
	{"mosquito-winter", "Mosquito control, winter (蚊虫消杀, 冬)", "cleaner",
	 "month", 1, CLEAN, CAT_MONTHS(1, 4) | CAT_MONTHS(11, 12), "none", NULL,
	 NULL, 13, "____次/月(冬)"},
	{"trees-prune", "Trees pruned (乔木修剪)", "cleaner", "year", 1,
	 CLEAN, 0, "photo", NULL, "green", 15, "乔木修剪:____次/年"},
	{"lawns-mow", "Lawns mown (草坪修剪)", "cleaner", "year", 6,
	 CLEAN, 0, "none", NULL, "green", 15, "草坪修剪:____次/年"},
	{"shrubs-trim", "Shrubs trimmed (灌木修剪)", "cleaner", "year", 4,
	 CLEAN, 0, "none", NULL, "green", 15, "灌木修剪:____次/年"},
	{"septic-wells", "Septic tank and rain wells cleaned (清淘化粪池、雨水井)",
	 "cleaner", "year", 2, CLEAN, 0, "photo", NULL, NULL, 814,
	 "定期清洁清淘化粪池、雨水井"},
	{"water-tank", "Secondary water tank cleaned, water tested "
	 "(二次供水水箱清洗及水质检测)", "technician", "year", 2,
	 DAYTIME, 0, "checklist", cl_tank, "plant-room", 11,
	 "二次供水水箱清洗及水质检测:____次/年"},
	{"plant-rounds", "Equipment-room rounds (设备房巡查)", "technician", "day", 1,
	 DAYTIME, 0, "checklist", cl_plant, "plant-room", 11,
	 "建立设备房巡查制度"},
	{"safety-survey", "Building and equipment safety survey "
	 "(房屋及设施设备安全普查)", "technician", "year", 1,
	 DAYTIME, 0, "checklist", cl_survey, NULL, 732,
	 "每年一次对房屋及设施设备进行安全普查"},
	{"fire-drill", "Fire drill (消防演习)", "guard", "year", 1,
	 DAYTIME, 0, "checklist", cl_drill, NULL, 19, "消防演习:____次/年"},
};

static const catalogue_target targets[] = {
	{"orders.on_time_rate", 1.0, "min", 747,
	 "零修合格率100%,一般维修任务在接报后不超过24小时完成"},
	{"satisfaction", 0.90, "min", 288, "客户满意度达到90%以上"},
	{"complaints.per_household_month", 0.01, "max", 288, "服务投诉率低于1%"},
	{"tasks.completion", 1.0, "min", 13, "清扫_____次/天"},
	{"tasks.on_time_rate", 1.0, "min", 13, "服务时间:每天____:00-____:00"},
	{"patrol.completion", 1.0, "min", 19, "安全管理部门建立24小时值班制度"},
};

const catalogue_entry *catalogue_entries(unsigned *n)
{
	*n = N(entries);
	return entries;
}

const catalogue_target *catalogue_targets(unsigned *n)
{
	*n = N(targets);
	return targets;
}

const catalogue_target *catalogue_target_of(const char *name)
{
	for (unsigned i = 0; i < N(targets); i++)
		if (!strcmp(targets[i].name, name))
			return &targets[i];
	return NULL;
}
